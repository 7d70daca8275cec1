#include "server/journal_stream.hpp"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <string>

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace bitsd::server {

namespace {

// The "%*" flag of the journal pattern: "<N>" with N the message's syslog priority.
class syslog_priority_flag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const char prefix[] = {'<', static_cast<char>('0' + syslog_priority(msg.level)), '>'};
        dest.append(prefix, prefix + sizeof(prefix));
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<syslog_priority_flag>();
    }
};

}  // namespace

std::optional<journal_stream_id> parse_journal_stream(std::string_view value) {
    const auto colon = value.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size()) return std::nullopt;
    journal_stream_id id;
    const char* end = value.data() + value.size();
    const auto dev = std::from_chars(value.data(), value.data() + colon, id.device);
    if (dev.ec != std::errc{} || dev.ptr != value.data() + colon) return std::nullopt;
    const auto ino = std::from_chars(value.data() + colon + 1, end, id.inode);
    if (ino.ec != std::errc{} || ino.ptr != end) return std::nullopt;
    return id;
}

bool stderr_is_journal() {
    const char* value = std::getenv("JOURNAL_STREAM");
    if (value == nullptr) return false;
    const auto id = parse_journal_stream(value);
    if (!id) return false;
#ifdef _WIN32
    return false;  // no journald on Windows
#else
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == id->device &&
           static_cast<unsigned long long>(st.st_ino) == id->inode;
#endif
}

int syslog_priority(spdlog::level::level_enum level) {
    switch (level) {
    case spdlog::level::critical: return 2;
    case spdlog::level::err: return 3;
    case spdlog::level::warn: return 4;
    case spdlog::level::info: return 6;
    case spdlog::level::debug:
    case spdlog::level::trace:
    default: return 7;
    }
}

void use_journal_pattern(spdlog::logger& logger) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<syslog_priority_flag>('*').set_pattern("%*[%l] %v");
    logger.set_formatter(std::move(formatter));
}

}  // namespace bitsd::server
