#pragma once
// The client's decisions, with no I/O: given where the upload stands and the server's answer to
// one packet, what to do next. bits-protocol.md §3.1 (client state machine), §3.4 (resync),
// §4.4 (which statuses are transient), §6 (Host-Id). The uploader does what this says; the unit
// tests check it row by row.

#include "protocol/engine.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::client {

// Windows never sends fragments smaller than this after a 413 [SPEC <10>].
inline constexpr std::uint64_t min_fragment_size = 5 * 1024;

// A response as the channel read it (its body is not needed for any decision).
struct response_head {
    unsigned status = 0;
    std::string reason;
    protocol::header_list headers;
};

// Header lookup by name, case-insensitive (servers vary the case: "BITS-packet-type").
std::optional<std::string_view> find_header(const protocol::header_list& headers,
                                            std::string_view name);

// The BITS error code of a response: BITS-Error-Code or BITS-Error (servers send either or
// both), hex with or without "0x", any case.
std::optional<std::uint32_t> bits_error_code(const response_head& response);
std::optional<std::uint32_t> parse_hresult(std::string_view text);

// §4.4: how Windows classifies a status that no special rule (413, 416, session not found,
// authentication) covers.
enum class status_class { success, transient, fatal };
status_class classify_status(unsigned status) noexcept;

// The upload at the moment a packet was sent.
struct upload_position {
    std::uint64_t offset = 0;         // Fragment: its first byte
    std::uint64_t length = 0;         // Fragment: its length
    std::uint64_t file_size = 0;
    bool credentials_sent = false;
    unsigned failures = 0;            // consecutive failures without progress before this one
    unsigned restarts = 0;            // sessions already started over after SESSION_NOT_FOUND
};

struct retry_policy {
    unsigned max_retries = 10;                // retries in a row without progress, then give up
    std::chrono::seconds max_delay{60};       // the backoff's ceiling
    unsigned max_restarts = 5;                // SESSION_NOT_FOUND restarts before failing
};

enum class next_step {
    proceed,          // Ping, Close-Session or Cancel-Session succeeded
    session_created,  // session_id, maybe host_id (+ its fallback timeout)
    advance,          // the fragment was acknowledged up to `offset`
    resync,           // the server wants `offset` next (416, or a 200 that says so)
    shrink_fragment,  // 413: resend from the same offset with `fragment_size`
    restart_session,  // SESSION_NOT_FOUND: a new session, from byte 0
    retry,            // transient: wait `delay`, send the same packet again
    fail,             // fatal: the server refused (exit 4)
    give_up,          // too many transient failures in a row (exit 5)
};

struct decision {
    next_step step = next_step::fail;
    std::uint64_t offset = 0;
    std::uint64_t fragment_size = 0;
    std::string session_id;
    std::optional<std::string> host_id;
    std::optional<std::uint64_t> host_id_fallback_timeout_s;
    std::optional<std::string> reply_url;  // on the Ack that completes the file
    std::chrono::seconds delay{0};
    std::string message;                   // retry, fail, give_up: what happened
};

decision decide(protocol::packet_kind kind, const upload_position& at,
                const retry_policy& policy, const response_head& response);

// No answer at all: connection refused or reset, a timeout, a malformed response.
decision decide_transport_failure(const upload_position& at, const retry_policy& policy,
                                  std::string_view what);

// A transient failure that is not about one packet (the reply download, a resync that went
// nowhere): retry with backoff, or give up after too many.
decision retry_or_give_up(const upload_position& at, const retry_policy& policy,
                          std::string message);

// Exponential backoff: 1 s, 2 s, 4 s, ... capped at max_delay. failure_number counts from 1.
std::chrono::seconds backoff_delay(unsigned failure_number, std::chrono::seconds max_delay) noexcept;

// §6: after this long without success on the Host-Id server, go back to the original host.
// Without a fallback timeout the client never falls back.
bool host_fallback_due(std::optional<std::uint64_t> fallback_timeout_s,
                       std::chrono::seconds failing_for) noexcept;

// "HTTP 403 Forbidden, BITS error 0x80070005 (E_ACCESSDENIED: access denied), context 0x5"
std::string describe_response(const response_head& response);

// "Create-Session" etc.
std::string_view packet_name(protocol::packet_kind kind) noexcept;

}  // namespace bitsd::client
