#pragma once
// One line per request answered (the access log): client address, request line, BITS packet
// type, session id, Content-Range, status, BITS error, body bytes read, duration. Written through
// a logger of its own ("access", sharing the daemon's sinks), at the level the operator chose
// (access_log_level, default info), so access lines can be kept while debug lines are not, or
// dropped while the rest stays. Rejections are logged like any other answer.
//
// Every field the client controls is escaped (text: \xHH for anything but visible ASCII; JSON:
// a proper string), so a line is always one line. Header values that may carry credentials
// (Authorization, Cookie) are never logged: only the fields named here are.

#include "config/config.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace bitsd::server {

struct access_record {
    std::string_view client;       // "1.2.3.4:5678" or "[::1]:5678"
    std::string_view method;       // as sent; empty when the header could not be read
    std::string_view target;
    std::string_view packet_type;  // BITS-Packet-Type as sent; empty when absent
    std::string_view session_id;   // BITS-Session-Id as sent (or the new id of a Create-Session)
    std::string_view range;        // Content-Range as sent
    unsigned status = 0;
    std::string_view error;        // BITS-Error-Code of the answer ("0x80070057"); empty if none
    std::uint64_t bytes = 0;       // request body bytes read (stored, skipped or drained)
    std::chrono::steady_clock::duration duration{};
};

class access_log {
public:
    // Sets the format and level; called once at start-up (main), before any connection.
    static void configure(config::log_format format, config::log_level level);
    // Whether a line would be written now (the daemon's level allows the access level): the
    // caller skips gathering the fields otherwise, so a disabled access log costs one check.
    static bool enabled() noexcept;
    static void write(const access_record& record);

    // The line's payload in each format (also used by the tests).
    static void format_text(std::string& out, const access_record& record);
    static void format_json(std::string& out, const access_record& record);
};

// JSON string content (without quotes) of arbitrary bytes: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD. Appended to `out`.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace bitsd::server
