#pragma once
// The rules of the notification exchange (bits-protocol.md §5 and the Decisions table), with no
// I/O: what bitsd sends to the back-end when an upload completes, how it reads the back-end's
// answer, what the BITS client gets back, and how the reply is addressed and served in ranges.
// The delivery code (delivery/) does the sockets, files and clocks around these rules.

#include "protocol/bits_error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace bitsd::protocol {

// Errors of the rules below. A bad notification URL is refused by the configuration; these
// codes exist so that the rules can be called on anything without undefined results.
enum class notification_errc {
    bad_upload_url = 1,     // the upload's scheme, host or target is not usable in a URL
    bad_notification_url,   // not an absolute http(s) URL nor a relative reference
    url_too_long,           // over 2,200 characters, IIS's limit for both URLs
    bad_reply_path,         // empty, or a segment is "." or ".."
    needs_public_base_url,  // a relative notification URL, and no public base to resolve it
};

const std::error_category& notification_category() noexcept;
std::error_code make_error_code(notification_errc e) noexcept;

using header_list = std::vector<std::pair<std::string, std::string>>;

// IIS's limit on the notification URL and on a back-end's static reply URL [DOCS; SPEC table].
inline constexpr std::size_t max_url_length = 2200;

// Where the client sent the upload: the request's scheme, an authority and its target. Which
// authority is the caller's choice: the configured public base or the listener's own address
// for what goes to the back-end, never the client's Host header (it would choose the back-end
// and what the back-end reads); the client's Host only in URLs handed back to that client.
struct upload_url {
    std::string_view scheme;  // "http" or "https"
    std::string_view host;    // authority: name or [v6], with the port if any
    std::string_view target;  // origin-form: "/path?query", as the client sent it
};

// The request-target with every byte a URL cannot carry raw (controls, space, '"', '#', '<',
// '>', '\', '^', '`', '{', '|', '}', DEL and non-ASCII such as raw UTF-8) percent-encoded,
// the rest (escapes the client made included) unchanged: the same resource, written so that it
// always rebuilds into a URL.
std::string encode_target(std::string_view target);

// The absolute URL of the upload ("http://host/path?query", the target encoded as above):
// BITS-Original-Request-URL.
std::string absolute_url(const upload_url& upload);

// `public_base_url`: "http(s)://host[:port]" with an optional final '/', no userinfo, path,
// query or fragment. True when `text` is one; then scheme is lower case and authority is
// host[:port] as written.
bool parse_public_base_url(std::string_view text, std::string& scheme, std::string& authority);

// True for an absolute notification URL (it has a scheme); false for a relative reference,
// which needs a public base to resolve against.
bool is_absolute_reference(std::string_view url);

enum class notification_type {
    reference,  // POST the file's server-side path; the back-end writes the reply file itself
    value,      // POST the file as the body; the response body is the reply
};

struct notification_input {
    upload_url upload;  // scheme and authority: the listener's own, never the client's Host
    // "http(s)://host[:port]" (parse_public_base_url) or empty. When set, relative notification
    // URLs resolve against it and BITS-Original-Request-URL uses it instead of upload's scheme
    // and authority; when empty, a relative notification URL is refused.
    std::string_view public_base_url;
    std::string_view notification_url;  // configured: absolute http(s) URL or a relative reference
    notification_type type = notification_type::reference;
    std::string_view request_data_file;   // server-side path of the uploaded bytes (reference)
    std::string_view response_data_file;  // where the back-end may write the reply (reference)
    std::string_view session_id;
    std::uint64_t size = 0;               // bytes in the uploaded file
    std::string_view idempotency_key;     // the bare key; sent quoted (idempotency_key_value)
    std::string_view sha256_base64;       // SHA-256 of the whole file, base64 (RFC 4648 §4)
};

// The POST to send, split the way an HTTP client needs it.
struct notification_request {
    std::string url;       // absolute: scheme://authority/path?query
    std::string scheme;    // "http" or "https"
    std::string host;      // without IPv6 brackets
    std::uint16_t port = 0;
    std::string host_header;  // authority as the Host header carries it
    std::string target;       // origin-form request-target
    header_list headers;      // in this order, Content-Length last; Host is the HTTP client's
    std::uint64_t body_length = 0;  // the whole file by value, 0 by reference
};

// IIS's URL rules: a relative notification URL is resolved against the upload URL on the public
// base (RFC 3986 §5.2, so "notify.asp" lands in the upload's directory), and the upload's query
// string is carried over (appended with '&' when the notification URL has a query of its own).
std::error_code build_notification(const notification_input& input, notification_request& out);

// "sha-256=:<base64>:" (RFC 9530 Repr-Digest, a Structured Fields dictionary of byte sequences).
std::string repr_digest_value(std::string_view sha256_base64);

// The Idempotency-Key header value: the key as a Structured Fields string (RFC 8941 §3.3.3), as
// draft-ietf-httpapi-idempotency-key-header defines the header: "<key>", with '"' and '\'
// escaped. bitsd's keys are plain tokens, so in practice the key in double quotes.
std::string idempotency_key_value(std::string_view key);

// ---- The back-end's answer -------------------------------------------------------------------

// How the exchange with the back-end ended, as far as the rules care.
enum class backend_transport {
    answered,            // a complete response with a status
    timed_out,           // connect, send or response deadline passed
    unreachable,         // refused, name not resolved, TLS handshake or certificate failure
    connection_dropped,  // reset or closed before the response was complete
    malformed_response,  // not HTTP the parser accepts (or a reply larger than the cap)
};

struct backend_response {
    backend_transport transport = backend_transport::answered;
    unsigned status = 0;  // when answered
    header_list headers;  // when answered; names compared case-insensitively
};

enum class delivery_outcome {
    delivered,         // 2xx: the upload is the back-end's now
    failed_transient,  // worth trying again later: 5xx, 408, 429, 3xx, timeouts, network failures
    failed_fatal,      // the back-end refused this upload: a 4xx other than 408 and 429
};

// Where the reply for the client comes from after a delivery.
enum class reply_source {
    none,                // not delivered
    static_url,          // BITS-Static-Response-URL: bitsd sends that URL and serves nothing
    response_body,       // by value: the back-end's response body, saved by the HTTP client
    response_data_file,  // by reference: the file the back-end wrote at BITS-Response-DataFile-Name
};

struct delivery_verdict {
    delivery_outcome outcome = delivery_outcome::failed_transient;
    // For failures, the error Ack of the final fragment (context_application); unused otherwise.
    error_answer client_answer{0, 0, 0};
    reply_source reply = reply_source::none;
    std::string static_reply_url;      // when reply == static_url
    bool copy_to_destination = false;  // BITS-Copy-File-To-Destination was present (any value)
    std::string reason;                // one line for the log: why it failed, or "delivered"
};

// Classifies the back-end's answer (bits-protocol.md §4.3, §4.4, §5.4; Decisions table). A 3xx
// is never followed. The client's status is the back-end's own where Windows classifies it the
// way bitsd does; where Windows would not (429, 501, 505, 3xx retried by bitsd; 409 given up by
// bitsd) the client gets 503 or 403 instead, with BITS-Error still 0x80190000 + the back-end's
// status so the failing status stays visible.
delivery_verdict classify_backend_response(notification_type type, const backend_response& response);

// ---- The reply -------------------------------------------------------------------------------

// BITS-Reply-URL: an absolute http(s) URL with forward slashes (Decisions table). `reply_path`
// is absolute ("/uploads/...") or relative to the upload's directory, as IIS's
// "BITS-Sessions\Replies\{GUID}\responsefile.bin" is; backslashes become slashes and each
// segment is percent-encoded ("{" -> "%7B"), as the Windows client did with IIS's relative URL.
// The reply URL goes back to the client that made the upload: `upload.host` may be its Host.
std::error_code build_reply_url(const upload_url& upload, std::string_view reply_path,
                                std::string& out);

// A GET of the reply with or without a Range header (RFC 9110 §14): one byte range is served,
// anything the server may ignore (another unit, a malformed header, several ranges) gets the
// whole file, and a range starting past the end is 416.
struct range_answer {
    unsigned status = 200;           // 200 whole file, 206 one range, 416 unsatisfiable
    std::uint64_t first = 0;         // bytes to send: [first, first + length)
    std::uint64_t length = 0;
    std::string content_range;       // "bytes a-b/size" for 206, "bytes */size" for 416
};

range_answer evaluate_range(std::optional<std::string_view> range_header, std::uint64_t file_size);

}  // namespace bitsd::protocol

namespace std {
template <>
struct is_error_code_enum<bitsd::protocol::notification_errc> : true_type {};
}  // namespace std
