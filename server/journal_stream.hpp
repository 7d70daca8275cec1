#pragma once
// Logging to journald: when systemd connects stderr to the journal it sets JOURNAL_STREAM to
// "device:inode" of that stream (systemd.exec(5)). Lines that then start with "<N>" carry syslog
// priority N (sd-daemon(3)), so `journalctl -p warning` can filter them; journald stamps each
// line itself, so the timestamp is left out.

#include <spdlog/common.h>

#include <optional>
#include <string_view>

namespace spdlog {
class logger;
}

namespace bitsd::server {

struct journal_stream_id {
    unsigned long long device = 0;
    unsigned long long inode = 0;
};

// "device:inode" in decimal; empty when malformed.
std::optional<journal_stream_id> parse_journal_stream(std::string_view value);

// True when JOURNAL_STREAM names the file stderr is open on (a JOURNAL_STREAM inherited by a
// process whose stderr was redirected elsewhere does not count).
bool stderr_is_journal();

// syslog priority of a level: err 3, warning 4, info 6, debug 7 (trace too), critical 2.
int syslog_priority(spdlog::level::level_enum level);

// Gives `logger` the journald pattern: "<N>[level] message".
void use_journal_pattern(spdlog::logger& logger);

}  // namespace bitsd::server
