// bitsd: wiring only. Command line -> config -> daemon.

#include "config/command_line.hpp"
#include "server/console_stop.hpp"
#include "server/daemon.hpp"
#include "server/journal_stream.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <iostream>

namespace {

spdlog::level::level_enum to_spdlog(bitsd::config::log_level level) {
    using bitsd::config::log_level;
    switch (level) {
    case log_level::trace: return spdlog::level::trace;
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warn: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::critical: return spdlog::level::critical;
    case log_level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = bitsd::config::parse_command_line(argc, argv);
    switch (parsed.action) {
    case bitsd::config::command_action::exit_ok:
        std::cout << parsed.output;
        return 0;
    case bitsd::config::command_action::exit_error:
        std::cerr << "bitsd: " << parsed.output << "\n";
        return 2;
    case bitsd::config::command_action::check_config:
    case bitsd::config::command_action::run:
        break;
    }
    if (const auto error = bitsd::config::prepare_directories(parsed.config)) {
        std::cerr << "bitsd: " << error->message << "\n";
        return 2;
    }
    if (parsed.action == bitsd::config::command_action::check_config) {
        std::cout << parsed.output;
        return 0;
    }

    // Logs go to stderr: journald and docker collect it, and stdout stays free for tooling.
    auto logger = spdlog::stderr_color_mt("bitsd");
    // Under systemd, stderr is the journal: lines carry their syslog priority instead of a
    // timestamp (journald stamps them), so `journalctl -p warning` works.
    if (bitsd::server::stderr_is_journal()) bitsd::server::use_journal_pattern(*logger);
    spdlog::set_default_logger(logger);
    spdlog::set_level(to_spdlog(parsed.config.level));
    spdlog::flush_on(spdlog::level::info);

    bitsd::server::install_console_stop_handler();  // Windows: Ctrl-Break, close, shutdown
    try {
        bitsd::server::daemon daemon(std::move(parsed.config));
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
