#include "server/json_log_formatter.hpp"

#include "server/access_log.hpp"
#include "server/journal_stream.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/details/os.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace bitsd::server {

namespace {

const char* level_name(spdlog::level::level_enum level) {
    switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
    }
}

// RFC 3339 in UTC with milliseconds: what log shippers parse without configuration.
void append_time(std::string& out, spdlog::log_clock::time_point when) {
    const auto since = when.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    const std::tm utc = spdlog::details::os::gmtime(t);  // portable (no gmtime_r on Windows)
    char text[40];
    const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    out.append(text, static_cast<std::size_t>(n));
}

}  // namespace

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    std::string line;
    line.reserve(msg.payload.size() + 96);
    if (journal_) line.append("<").append(std::to_string(syslog_priority(msg.level))).append(">");
    line.append("{");
    if (!journal_) {
        line.append("\"time\":\"");
        append_time(line, msg.time);
        line.append("\",");
    }
    line.append("\"level\":\"").append(level_name(msg.level)).append("\",");
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (logger == "access") {
        line.append(payload);  // already JSON fields (access_log::format_json)
    } else {
        line.append("\"msg\":\"");
        append_json_escaped(line, payload);
        line.append("\"");
    }
    line.append("}\n");
    dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
    return std::make_unique<json_log_formatter>(journal_);
}

}  // namespace bitsd::server
