#include "config/command_line.hpp"

#include "config/json_reader.hpp"
#include "config/listen_list.hpp"
#include "config/listen_reader.hpp"
#include "config/operations_keys.hpp"
#include "config/relative_paths.hpp"

#include "bitsd_git_commit.h"  // generated at build time: BITSD_GIT_COMMIT

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
    "Flags override the environment (BITSD_CONFIG, BITSD_LISTEN, BITSD_DATA_DIR, "
    "BITSD_LOG_LEVEL), which overrides the config file, which overrides the defaults. Relative "
    "paths in the config file are relative to the file's folder.";

struct flags {
    std::string config_file;
    std::vector<std::string> listen;
    std::string data_dir;
    std::string level;
    std::string format;
    std::string admin_listen;
    bool check_config = false;
    bool create_dirs = false;
    std::string probe_url;
    bool version = false;
};

command_result printed(std::string text) {
    command_result result;
    result.action = command_action::exit_ok;
    result.output = std::move(text);
    return result;
}

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
    for (const auto& endpoint : s.listen) text += " " + to_string(endpoint) + (endpoint.tls ? " (tls)" : "");
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

command_result parse(int argc, const char* const* argv, const environment& env) {
    CLI::App app{"bitsd: a BITS upload server.\n" + std::string(defaults_note), "bitsd"};
    app.footer("Sessions of a data directory: bitsd sessions list|show|cancel|purge (bitsd sessions --help).");
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
                 "check the configuration, the directories and that every listener can be bound "
                 "(then released), print a summary and exit; creates nothing");
    app.add_flag("--create-dirs", given.create_dirs,
                 "with --check-config: create missing directories (otherwise it creates nothing)");
    app.add_option("--probe", given.probe_url,
                   "health probe: GET URL and exit 0 on a 2xx answer, 1 otherwise; without URL, "
                   "send a BITS Ping to the first listener and upload prefix of the "
                   "configuration (for a container HEALTHCHECK)")
        ->type_name("[URL]")
        ->expected(0, 1);
    app.add_flag("--version", given.version, "print the version (and git commit) and exit");

    static const char* const no_arguments[] = {"bitsd", nullptr};
    if (argc < 1 || argv == nullptr) {
        argc = 1;
        argv = no_arguments;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return printed(app.help());
    } catch (const CLI::CallForAllHelp&) {
        return printed(app.help());
    } catch (const CLI::ParseError& e) {
        return failure(e.what());
    }
    if (given.version) return printed(version_line());
    if (given.create_dirs && !given.check_config) return failure("--create-dirs: needs --check-config");
    const bool probe = app.count("--probe") > 0;
    if (probe && !given.probe_url.empty()) {
        // A URL needs no configuration: a broken file must not make a healthy daemon look ill.
        command_result result;
        result.action = command_action::probe;
        result.probe_url = given.probe_url;
        return result;
    }

    settings s;
    std::string config_file;
    std::string config_source = "--config";
    if (app.count("--config") > 0) {
        config_file = given.config_file;
    } else if (auto from_env = config_file_from(env)) {
        config_file = *from_env;
        config_source = "BITSD_CONFIG";
    }
    if (!config_file.empty()) {
        std::string text;
        if (auto ec = read_file(config_file, text)) {
            return failure(config_source + ": cannot read \"" + config_file + "\": " + ec->message());
        }
        // An empty data_dir is never valid in a file, so it tells whether the file set one.
        s.data_dir.clear();
        if (auto error = read_json_settings(text, s)) {
            return failure(config_file + ": " + error->message);
        }
        paths_from_file from_file;
        from_file.data_dir = !s.data_dir.empty();
        from_file.uploads = !s.uploads.empty();
        if (!from_file.data_dir) s.data_dir = settings{}.data_dir;
        anchor_relative_paths(s, fs::path(config_file).parent_path(), from_file);
    }
    if (auto error = apply_environment(env, s)) return failure(error->message);

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
    if (auto error = check_basic_needs_tls(s)) {
        return failure((config_file.empty() ? "" : config_file + ": ") + error->message);
    }
    if (auto error = check_public_base_url(s)) {
        return failure((config_file.empty() ? "" : config_file + ": ") + error->message);
    }

    command_result result;
    result.config = std::move(s);
    if (probe) {
        result.action = command_action::probe;
    } else if (given.check_config) {
        result.action = command_action::check_config;
        result.create_directories = given.create_dirs;
        result.output = summary(result.config);
    }
    return result;
}

}  // namespace

std::string version_line() {
    return std::string("bitsd ") + BITSD_VERSION + " (git " + BITSD_GIT_COMMIT + ")";
}

command_result parse_command_line(int argc, const char* const* argv) {
    return parse_command_line(argc, argv, process_environment());
}

command_result parse_command_line(int argc, const char* const* argv, const environment& env) {
    // Nothing may escape: main turns the result into an exit code and a message.
    try {
        return parse(argc, argv, env);
    } catch (const std::exception& e) {
        return failure(std::string("bitsd: cannot parse the command line: ") + e.what());
    }
}

}  // namespace bitsd::config
