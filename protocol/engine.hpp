#pragma once
// The BITS upload engine: every rule of the protocol, with no I/O. The server hands it a view of
// the request's header and, for session-bound packets, the session's state; the engine answers
// with a decision (what storage must do) and the response to send. Time comes in as an argument.
//
// A request goes through it in this order:
//   parse()            syntax: packet type, Content-Length, required headers, Content-Range,
//                      per-request size limit (413 before the body is read)
//   Create-Session:    decide_create() -> store the session -> create_ack()
//   session packets:   find_session() -> decide_fragment() / decide_close() / decide_cancel()
//                      -> storage acts -> fragment_ack() / ack()
//   any failure:       error_response()

#include "protocol/bits_error.hpp"
#include "protocol/content_range.hpp"
#include "protocol/session_id.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bitsd::protocol {

// The only upload protocol that exists: "BITS 1.5 Upload Protocol".
inline constexpr std::string_view bits_upload_protocol_guid = "{7df0354d-249b-430f-820d-3d2a9bef4931}";
// Header values longer than this are rejected (IIS enforces the same 4 KB).
inline constexpr std::size_t max_header_value_length = 4096;

enum class packet_kind { ping, create_session, fragment, close_session, cancel_session };

// The parts of a request header the rules look at. Views into the server's parser: valid for
// the duration of the call only.
struct request_view {
    std::string_view method;
    std::string_view target;
    std::optional<std::string_view> packet_type;
    std::optional<std::string_view> session_id;
    std::optional<std::string_view> content_length;  // raw text; nullopt when absent
    std::optional<std::string_view> content_range;
    std::optional<std::string_view> supported_protocols;
    std::optional<std::string_view> content_encoding;
    bool chunked = false;                 // Transfer-Encoding: chunked
    std::size_t longest_header_value = 0;  // over all header fields
    // What a single field lookup cannot show: the HTTP version (10 or 11, as Beast counts) and
    // how often each field that must appear at most once was sent. The server counts; the
    // engine decides. Host defaults to one so that views built by hand stay plain requests.
    unsigned http_version = 11;
    std::size_t host_count = 1;
    std::size_t packet_type_count = 0;
    std::size_t session_id_count = 0;
    std::size_t content_length_count = 0;
    std::size_t content_range_count = 0;
};

// A request that passed parse().
struct packet {
    packet_kind kind = packet_kind::ping;
    std::uint64_t content_length = 0;
    std::optional<std::string> session_id;  // the lookup key: canonical (upper-case) form when
                                            // the header was a GUID, as sent otherwise (never
                                            // looked up then)
    std::optional<std::string> sent_session_id;  // the header byte for byte: every Ack echoes it
    bool session_id_valid = false;          // the header held a well-formed GUID
    std::optional<content_range> range;     // Fragment only
    std::string protocol;                   // Create-Session only: the chosen protocol GUID
    // Who sent it: the authenticated user, or without authentication the client's address
    // (server/admission_control::client_of). Set by server/, never parsed from the request.
    // A session belongs to the principal that created it.
    std::string principal;
};

// Settings that shape answers (from config, fixed for the engine's life).
struct engine_settings {
    std::uint64_t max_fragment_size = 32ull * 1024 * 1024;
    std::optional<std::string> host_id;
    std::optional<std::uint64_t> host_id_fallback_timeout_s;
};

// Per-upload-prefix rules.
struct upload_rules {
    bool allow_overwrites = false;
    std::uint64_t max_upload_size = 0;  // 0 = no limit
    std::uint64_t session_timeout_s = 1209600;
};

enum class session_phase { receiving, committing, closed, cancelled };

// What is at the destination path now (the server looks; the engine decides).
enum class destination_kind {
    missing,
    file,
    directory,
    unusable,  // the path cannot name a file (a parent is a file, a symlink loop, ...)
};

// What the engine needs to know about a stored session.
struct session_view {
    session_phase phase = session_phase::receiving;
    std::string target;                  // the path the session was created for
    std::optional<std::uint64_t> total;  // known after the first fragment
    std::uint64_t received = 0;          // bytes durably stored, from storage
    std::int64_t last_activity_unix = 0;
};

// One response header list, in order.
using header_list = std::vector<std::pair<std::string, std::string>>;

struct response {
    unsigned status = 200;
    header_list headers;            // never Content-Length: the server adds "0" for every Ack
    bool close_connection = false;  // the body was not read (413): do not keep the connection
};

// A rejection: the error, and for 416 the offset the client must resync to.
struct rejection {
    std::error_code error;
    std::optional<std::uint64_t> received;
};

template <typename T>
struct outcome {
    std::optional<T> value;
    rejection failure;  // meaningful when !value
    explicit operator bool() const noexcept { return value.has_value(); }
};

// What storage must do with a fragment's body.
struct fragment_plan {
    std::uint64_t skip = 0;    // leading body bytes already stored (overlap): read and drop
    std::uint64_t write = 0;   // bytes to append after those, at `offset`
    std::uint64_t offset = 0;  // the stored length now; the append position
    std::optional<std::uint64_t> record_total;  // first fragment: store the file's total size
    bool session_closed = false;  // a duplicate after Close: nothing to write, answer complete
};

enum class close_action {
    commit,          // move the complete file to its destination, then Ack
    already_closed,  // a repeated Close: Ack again, do nothing
};

enum class cancel_action {
    cancel,            // delete the data, keep a cancelled tombstone, Ack
    already_finished,  // closed or cancelled before: Ack, change nothing
};

class engine {
public:
    explicit engine(engine_settings settings);

    const engine_settings& settings() const noexcept { return settings_; }

    // Syntax and limits, before any session lookup and before the body is read.
    outcome<packet> parse(const request_view& request) const;

    // Create-Session: refuses a directory, and an existing file unless overwrites are allowed.
    std::error_code decide_create(const packet& create, destination_kind destination,
                                  const upload_rules& rules) const;

    // The lookup rule for Fragment, Close-Session and Cancel-Session: unknown, malformed,
    // expired or belonging to another path -> session_not_found. `session` is null when storage
    // has no such id.
    std::error_code find_session(const packet& request, const session_view* session,
                                 std::string_view request_path, const upload_rules& rules,
                                 std::int64_t now_unix) const;

    // Offsets, overlap, gaps, totals and size limits of one Fragment.
    outcome<fragment_plan> decide_fragment(const packet& fragment, const session_view& session,
                                           const upload_rules& rules) const;

    outcome<close_action> decide_close(const session_view& session) const;
    cancel_action decide_cancel(const session_view& session) const;

    // Success answers.
    response create_ack(const packet& create, std::string_view session_id) const;
    response fragment_ack(const packet& fragment, std::uint64_t received) const;
    response ack(const packet& request) const;  // Ping, Close-Session, Cancel-Session

    // The answer for any rejection. `echo_session_id` is the request's BITS-Session-Id, if any.
    response error_response(const rejection& failure,
                            const std::optional<std::string>& echo_session_id) const;
    response error_response(const std::error_code& error,
                            const std::optional<std::string>& echo_session_id) const;

private:
    engine_settings settings_;
};

// A session (or tombstone) expires after session_timeout_s without a successful message
// ([MC-BUP] 3.2.2.1); exactly the timeout is still alive.
bool is_expired(std::int64_t last_activity_unix, std::int64_t now_unix,
                std::uint64_t session_timeout_s) noexcept;

// Parses a BITS-Packet-Type value (case-insensitive).
std::optional<packet_kind> parse_packet_type(std::string_view text) noexcept;

// Formats an HRESULT as BITS sends it: "0x" and eight upper-case hex digits.
std::string format_hresult(std::uint32_t hresult);

// Formats a BITS-Error-Context as BITS sends it: "0x" and the hex digits, e.g. "0x5", "0x7".
std::string format_context(std::uint32_t context);

}  // namespace bitsd::protocol
