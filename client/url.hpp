#pragma once
// The destination URL of an upload: http://[user[:password]@]host[:port]/path[?query].
// Pure string work. https:// is recognised only to refuse it clearly (TLS comes later).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::client {

struct http_url {
    std::string host;    // without IPv6 brackets, as given (names are compared case-insensitively)
    std::uint16_t port = 80;
    std::string target;  // origin-form request-target: path and query, percent-encoded
    std::optional<std::string> user;      // from userinfo, percent-decoded
    std::optional<std::string> password;

    friend bool operator==(const http_url& a, const http_url& b) {
        return a.host == b.host && a.port == b.port && a.target == b.target && a.user == b.user &&
               a.password == b.password;
    }
};

struct url_result {
    std::optional<http_url> url;
    std::string error;  // why it was refused, when !url
};

url_result parse_url(std::string_view text);

// "http://host[:port]/target" without credentials: for messages and the state file.
std::string to_string(const http_url& url);

// The Host header value: the host (bracketed when IPv6) and the port unless it is 80.
std::string host_header(const http_url& url);

// BITS-Host-Id: the same URL on another host; port, path and credentials stay. An IPv6
// literal may come with or without brackets.
http_url with_host(const http_url& url, std::string_view host_id);

// BITS-Reply-URL: absolute http(s) URLs are parsed; anything else is a path relative to the
// destination's directory (IIS sends "BITS-Sessions\Replies\{...}\responsefile.bin"), with
// backslashes made slashes. Credentials of `base` are not carried over.
url_result resolve_reply_url(const http_url& base, std::string_view reference);

// Percent-encodes the bytes that may not appear in a request-target (space, controls,
// non-ASCII, "<>\"\\^`{|}"); an existing "%XX" stays as it is.
std::string encode_target(std::string_view text);

}  // namespace bitsd::client
