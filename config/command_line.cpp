#include "config/command_line.hpp"

#include "config/json_reader.hpp"
#include "config/listen_list.hpp"
#include "config/operations_keys.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <vector>

#ifndef BITSD_VERSION
#define BITSD_VERSION "0.0.0"
#endif

namespace bitsd::config {

namespace {

namespace fs = std::filesystem;

// Config files are small; anything this large is a wrong path (a log, an image), not a config.
constexpr std::uintmax_t max_config_size = 1024 * 1024;

const char* const defaults_note =
    "Without --config, bitsd runs on its embedded defaults: it listens on 0.0.0.0:8080, keeps "
    "its data in ./bitsd-data and accepts uploads under /uploads/ into ./bitsd-data/files. "
    "Flags override the config file, which overrides the defaults.";

struct flags {
    std::string config_file;
    std::vector<std::string> listen;
    std::string data_dir;
    std::string level;
    std::string format;
    std::string admin_listen;
    bool check_config = false;
    bool version = false;
};

command_result failure(std::string message) {
    command_result result;
    result.action = command_action::exit_error;
    result.output = std::move(message);
    return result;
}

// The file's text, or why it could not be had (as strerror would say it).
std::optional<std::error_code> read_file(const fs::path& path, std::string& text) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return std::make_error_code(std::errc::is_a_directory);
    errno = 0;
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return errno != 0 ? std::error_code(errno, std::generic_category())
                          : std::make_error_code(std::errc::io_error);
    }
    const auto size = fs::file_size(path, ec);
    if (!ec && size > max_config_size) return std::make_error_code(std::errc::file_too_large);
    std::ostringstream content;
    content << file.rdbuf();
    if (file.bad()) return std::make_error_code(std::errc::io_error);
    text = content.str();
    return std::nullopt;
}

std::string summary(const settings& s) {
    std::string text = "listen:";
    for (const auto& endpoint : s.listen) text += " " + to_string(endpoint);
    text += "\ndata_dir: " + s.data_dir.u8string() + "\n";
    text += "uploads:\n";
    for (const auto& upload : s.uploads) {
        text += "  " + upload.url_prefix + " -> " + upload.destination_dir.u8string();
        if (upload.allow_overwrites) text += " (overwrites allowed)";
        text += "\n";
    }
    text += std::string("fsync: ") + (s.fsync == fsync_mode::durable ? "durable" : "none") + "\n";
    text += std::string("log_level: ") + to_string(s.level) + "\n";
    text += std::string("log_format: ") + to_string(s.format) + "\n";
    text += std::string("access_log_level: ") + to_string(s.access_log_level) + "\n";
    text += "admin_listen: " + (s.admin_listen ? to_string(*s.admin_listen) : std::string("off")) + "\n";
    return text;
}

command_result parse(int argc, const char* const* argv) {
    CLI::App app{"bitsd: a BITS upload server.\n" + std::string(defaults_note), "bitsd"};
    flags given;
    app.add_option("--config", given.config_file,
                   "read the configuration from this JSON file (keys: see config/README.md)")
        ->type_name("FILE");
    // One value per --listen: repeat the flag for more. Without allow_extra_args(false), CLI11
    // would also read "[::1]:8080" as its own "[a,b]" list syntax.
    app.add_option("--listen", given.listen,
                   "listen on HOST:PORT ([::1]:8080 for IPv6); repeat for several; replaces "
                   "the file's \"listen\"")
        ->type_name("HOST:PORT")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--data-dir", given.data_dir,
                   "overrides \"data_dir\" (and the default upload destination DIR/files)")
        ->type_name("DIR");
    app.add_option("--log-level", given.level,
                   "overrides \"log_level\": trace, debug, info, warn, error, critical or off")
        ->type_name("LEVEL");
    app.add_option("--log-format", given.format, "overrides \"log_format\": text or json")
        ->type_name("FORMAT");
    app.add_option("--admin-listen", given.admin_listen,
                   "overrides \"admin_listen\": HOST:PORT of /healthz, /readyz, /metrics and the "
                   "status page, or off")
        ->type_name("HOST:PORT|off");
    app.add_flag("--check-config", given.check_config,
                 "validate the configuration and the directories, print a summary and exit");
    app.add_flag("--version", given.version, "print the version and exit");

    static const char* const no_arguments[] = {"bitsd", nullptr};
    if (argc < 1 || argv == nullptr) {
        argc = 1;
        argv = no_arguments;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return command_result{command_action::exit_ok, {}, app.help()};
    } catch (const CLI::CallForAllHelp&) {
        return command_result{command_action::exit_ok, {}, app.help()};
    } catch (const CLI::ParseError& e) {
        return failure(e.what());
    }
    if (given.version) {
        return command_result{command_action::exit_ok, {}, std::string("bitsd ") + BITSD_VERSION};
    }

    settings s;
    if (app.count("--config") > 0) {
        std::string text;
        if (auto ec = read_file(given.config_file, text)) {
            return failure("--config: cannot read \"" + given.config_file + "\": " + ec->message());
        }
        if (auto error = read_json_settings(text, s)) {
            return failure(given.config_file + ": " + error->message);
        }
    }

    if (!given.listen.empty()) {
        if (auto error = parse_listen_list(given.listen, s.listen)) {
            return failure("--listen \"" + given.listen[error->index] + "\": " + error->why);
        }
    }
    if (app.count("--data-dir") > 0) {
        if (given.data_dir.empty()) return failure("--data-dir: must not be empty");
        // Uploads the file did not configure follow data_dir (apply_defaults, below);
        // configured ones stay where the admin put them.
        s.data_dir = given.data_dir;
    }
    if (app.count("--log-level") > 0) {
        const auto level = parse_log_level(given.level);
        if (!level) {
            return failure("--log-level: expected one of trace, debug, info, warn, error, "
                           "critical, off, got \"" + given.level + "\"");
        }
        s.level = *level;
    }
    if (app.count("--log-format") > 0) {
        const auto format = parse_log_format(given.format);
        if (!format) return failure("--log-format: expected text or json, got \"" + given.format + "\"");
        s.format = *format;
    }
    if (app.count("--admin-listen") > 0) {
        if (auto why = parse_admin_listen(given.admin_listen, s.admin_listen)) {
            return failure("--admin-listen \"" + given.admin_listen + "\": " + *why);
        }
    }
    apply_defaults(s);

    command_result result;
    result.config = std::move(s);
    if (given.check_config) {
        result.action = command_action::check_config;
        result.output = summary(result.config);
    }
    return result;
}

}  // namespace

command_result parse_command_line(int argc, const char* const* argv) {
    // Nothing may escape: main turns the result into an exit code and a message.
    try {
        return parse(argc, argv);
    } catch (const std::exception& e) {
        return failure(std::string("bitsd: cannot parse the command line: ") + e.what());
    }
}

}  // namespace bitsd::config
