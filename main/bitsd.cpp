// bitsd: wiring only. Command line -> config -> daemon.

#include "config/command_line.hpp"
#include "main/check_config.hpp"
#include "main/deliveries_command.hpp"
#include "main/exit_codes.hpp"
#include "main/probe.hpp"
#include "main/sessions_command.hpp"
#include "server/access_log.hpp"
#include "main/passwd_command.hpp"
#include "server/console_stop.hpp"
#include "server/daemon.hpp"
#include "server/json_log_formatter.hpp"
#include "server/journal_stream.hpp"
#include "server/log_level.hpp"
#include "server/tls/tls_context.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "deliveries") return bitsd::cli::run_deliveries_command(argc, argv);
    if (argc > 1 && std::string(argv[1]) == "passwd") return bitsd::main::run_passwd(argc - 1, argv + 1);
    if (argc > 1 && std::string(argv[1]) == "sessions") return bitsd::cli::sessions_command(argc - 1, argv + 1);
    auto parsed = bitsd::config::parse_command_line(argc, argv);
    switch (parsed.action) {
    case bitsd::config::command_action::exit_ok:
        std::cout << parsed.output;
        if (!parsed.output.empty() && parsed.output.back() != '\n') std::cout << '\n';
        return 0;
    case bitsd::config::command_action::exit_error:
        std::cerr << "bitsd: " << parsed.output << "\n";
        return 2;
    case bitsd::config::command_action::check_config:
        return bitsd::cli::run_check_config(parsed);
    case bitsd::config::command_action::probe:
        return bitsd::cli::run_probe(parsed.config, parsed.probe_url);
    case bitsd::config::command_action::run:
        break;
    }
    if (const auto error = bitsd::config::prepare_directories(parsed.config)) {
        std::cerr << "bitsd: " << error->message << "\n";
        return 2;
    }
    // A bad certificate or key is a bad configuration (exit 2), named by its key.
    if (const auto error = bitsd::server::check_tls_files(parsed.config.listen)) {
        std::cerr << "bitsd: " << *error << "\n";
        return 2;
    }

    // Logs go to stderr: journald and docker collect it, and stdout stays free for tooling.
    auto logger = spdlog::stderr_color_mt("bitsd");
    // Under systemd, stderr is the journal: lines carry their syslog priority instead of a
    // timestamp (journald stamps them), so `journalctl -p warning` works.
    const bool journal = bitsd::server::stderr_is_journal();
    if (parsed.config.format == bitsd::config::log_format::json) {
        logger->set_formatter(std::make_unique<bitsd::server::json_log_formatter>(journal));
    } else if (journal) {
        bitsd::server::use_journal_pattern(*logger);
    } else {
        logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");  // one logger: its name says nothing
    }
    spdlog::set_default_logger(logger);
    spdlog::set_level(bitsd::server::to_spdlog(parsed.config.level));
    spdlog::flush_on(spdlog::level::info);
    bitsd::server::access_log::configure(parsed.config.format, parsed.config.access_log_level);

    bitsd::server::install_console_stop_handler();  // Windows: Ctrl-Break, close, shutdown
    try {
        bitsd::server::daemon daemon(std::move(parsed.config));
        // SIGHUP: the same file and flags again, validated as at start-up.
        daemon.reload_with([argc, argv](std::string& error) -> std::optional<bitsd::config::settings> {
            auto again = bitsd::config::parse_command_line(argc, argv);
            if (again.action != bitsd::config::command_action::run &&
                again.action != bitsd::config::command_action::check_config) {
                error = again.output;
                return std::nullopt;
            }
            return std::move(again.config);
        });
        return daemon.run();
    } catch (const bitsd::server::data_dir_in_use& e) {
        spdlog::critical("{}", e.what());
        return bitsd::exit_code::data_dir_in_use;
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
