// The command line: flags over the config file over the embedded defaults, and one clear line
// for every way it can go wrong.

#include "config/command_line.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

using bitsd::test::temp_dir;

cfg::command_result run(std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"bitsd"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const auto& arg : storage) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    return cfg::parse_command_line(static_cast<int>(storage.size()), argv.data());
}

std::string write_config(const temp_dir& dir, const std::string& text) {
    const fs::path path = dir.path() / "bitsd.json";
    std::ofstream file(path, std::ios::binary);
    file << text;
    return path.string();
}

fs::path example_file() {
    return fs::path(__FILE__).parent_path().parent_path().parent_path() / "config" /
           "bitsd.example.json";
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool one_line(const std::string& text) {
    return !text.empty() && text.find('\n') == std::string::npos;
}

}  // namespace

TEST_CASE("no arguments: run on the embedded defaults", "[config]") {
    const auto result = run({});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.output.empty());
    const auto& s = result.config;
    REQUIRE(s.listen.size() == 1);
    CHECK(s.listen[0].host == "0.0.0.0");
    CHECK(s.listen[0].port == 8080);
    CHECK(s.data_dir == fs::path("bitsd-data"));
    REQUIRE(s.uploads.size() == 1);
    CHECK(s.uploads[0].url_prefix == "/uploads/");
    CHECK(s.uploads[0].destination_dir == fs::path("bitsd-data") / "files");
    CHECK(s.fsync == cfg::fsync_mode::durable);
    CHECK(s.level == cfg::log_level::info);
}

TEST_CASE("argc of zero is treated as no arguments", "[config]") {
    const auto result = cfg::parse_command_line(0, nullptr);
    CHECK(result.action == cfg::command_action::run);
}

TEST_CASE("config: --version and --help print and exit successfully", "[config]") {
    const auto version = run({"--version"});
    CHECK(version.action == cfg::command_action::exit_ok);
    CHECK(starts_with(version.output, "bitsd "));
    CHECK(version.output.size() > std::string("bitsd ").size());

    for (const char* flag : {"--help", "-h"}) {
        INFO(flag);
        const auto help = run({flag});
        CHECK(help.action == cfg::command_action::exit_ok);
        for (const char* word : {"--config", "--listen", "--data-dir", "--log-level",
                                 "--check-config", "--version", "embedded defaults"}) {
            INFO(word);
            CHECK(help.output.find(word) != std::string::npos);
        }
    }
}

TEST_CASE("config: --version does not need a readable config", "[config]") {
    const auto result = run({"--config", "/nonexistent/bitsd.json", "--version"});
    CHECK(result.action == cfg::command_action::exit_ok);
}

TEST_CASE("an unknown flag is CLI11's one-line error", "[config]") {
    const auto result = run({"--bogus"});
    CHECK(result.action == cfg::command_action::exit_error);
    INFO(result.output);
    CHECK(result.output.find("--bogus") != std::string::npos);
    CHECK(one_line(result.output));
}

TEST_CASE("config: --config on a missing file names the flag and the reason", "[config]") {
    temp_dir dir;
    const std::string missing = (dir.path() / "missing.json").string();
    const auto result = run({"--config", missing});
    CHECK(result.action == cfg::command_action::exit_error);
    INFO(result.output);
    CHECK(starts_with(result.output, "--config: cannot read \"" + missing + "\": "));
    CHECK(result.output.find("No such file") != std::string::npos);
    CHECK(one_line(result.output));

    const auto directory = run({"--config", dir.path().string()});
    CHECK(directory.action == cfg::command_action::exit_error);
    CHECK(starts_with(directory.output, "--config: cannot read \""));
}

TEST_CASE("an invalid config file is one line naming the file and the key", "[config]") {
    temp_dir dir;
    const std::string path = write_config(dir, R"({"uploads": [{"url_prefix": "nope"}]})");
    const auto result = run({"--config", path});
    CHECK(result.action == cfg::command_action::exit_error);
    INFO(result.output);
    CHECK(result.output == path + ": uploads[0].url_prefix: must start and end with '/'");

    const std::string broken = write_config(dir, "{\"threads\": }");
    const auto parse_error = run({"--config", broken});
    CHECK(parse_error.action == cfg::command_action::exit_error);
    CHECK(starts_with(parse_error.output, broken + ": invalid JSON: "));
    CHECK(one_line(parse_error.output));
}

TEST_CASE("flags override the config file, which overrides the defaults", "[config]") {
    temp_dir dir;
    const std::string path = write_config(dir, R"({
        "listen": ["1.2.3.4:1", "1.2.3.4:2"], "data_dir": "from-file", "log_level": "debug",
        "max_fragment_size": 1000, "threads": 3
    })");

    const auto file_only = run({"--config", path});
    REQUIRE(file_only.action == cfg::command_action::run);
    CHECK(file_only.config.listen.size() == 2);
    // A relative path in the file is relative to the file's folder.
    CHECK(file_only.config.data_dir == dir.path() / "from-file");
    CHECK(file_only.config.level == cfg::log_level::debug);
    CHECK(file_only.config.max_fragment_size == 1000);
    CHECK(file_only.config.cleanup_interval_s == 3600);  // untouched default

    const auto flagged = run({"--config", path, "--listen", "127.0.0.1:9000", "--data-dir",
                              "from-flag", "--log-level", "warn"});
    REQUIRE(flagged.action == cfg::command_action::run);
    const auto& s = flagged.config;
    REQUIRE(s.listen.size() == 1);  // --listen replaces the file's list
    CHECK(s.listen[0].host == "127.0.0.1");
    CHECK(s.listen[0].port == 9000);
    CHECK(s.data_dir == fs::path("from-flag"));
    CHECK(s.level == cfg::log_level::warn);
    CHECK(s.max_fragment_size == 1000);  // the file still counts where no flag speaks
    CHECK(s.threads == 3);
}

TEST_CASE("config: --listen may be repeated and takes bracketed IPv6", "[config]") {
    const auto result = run({"--listen", "127.0.0.1:1", "--listen", "[::1]:2", "--listen=[::]:3"});
    REQUIRE(result.action == cfg::command_action::run);
    const auto& listen = result.config.listen;
    REQUIRE(listen.size() == 3);
    CHECK(listen[0].host == "127.0.0.1");
    CHECK(listen[0].port == 1);
    CHECK(listen[1].host == "::1");
    CHECK(listen[1].port == 2);
    CHECK(listen[2].host == "::");
    CHECK(listen[2].port == 3);
}

TEST_CASE("bad --listen values name the flag and the value", "[config]") {
    const auto bad = run({"--listen", "nohost:80"});
    CHECK(bad.action == cfg::command_action::exit_error);
    CHECK(starts_with(bad.output, "--listen \"nohost:80\": "));
    CHECK(one_line(bad.output));

    const auto duplicate = run({"--listen", "127.0.0.1:1", "--listen", "127.0.0.1:1"});
    CHECK(duplicate.action == cfg::command_action::exit_error);
    CHECK(starts_with(duplicate.output, "--listen \"127.0.0.1:1\": duplicate endpoint"));

    // One value per --listen: a second word is not silently taken as another endpoint.
    const auto two_values = run({"--listen", "127.0.0.1:1", "127.0.0.1:2"});
    CHECK(two_values.action == cfg::command_action::exit_error);
    CHECK(one_line(two_values.output));
}

TEST_CASE("config: --data-dir moves the defaulted upload destination, not a configured one",
          "[config]") {
    const auto no_file = run({"--data-dir", "/srv/elsewhere"});
    REQUIRE(no_file.action == cfg::command_action::run);
    CHECK(no_file.config.data_dir == fs::path("/srv/elsewhere"));
    REQUIRE(no_file.config.uploads.size() == 1);
    CHECK(no_file.config.uploads[0].destination_dir == fs::path("/srv/elsewhere") / "files");

    temp_dir dir;
    const std::string defaulted = write_config(dir, R"({"data_dir": "/srv/from-file"})");
    const auto moved = run({"--config", defaulted, "--data-dir", "/srv/from-flag"});
    REQUIRE(moved.action == cfg::command_action::run);
    REQUIRE(moved.config.uploads.size() == 1);
    CHECK(moved.config.uploads[0].destination_dir == fs::path("/srv/from-flag") / "files");

    const std::string configured = write_config(
        dir, R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/srv/fixed"}]})");
    const auto kept = run({"--config", configured, "--data-dir", "/srv/from-flag"});
    REQUIRE(kept.action == cfg::command_action::run);
    REQUIRE(kept.config.uploads.size() == 1);
    CHECK(kept.config.uploads[0].destination_dir == fs::path("/srv/fixed"));
}

TEST_CASE("bad flag values name the flag", "[config]") {
    const auto level = run({"--log-level", "loud"});
    CHECK(level.action == cfg::command_action::exit_error);
    CHECK(starts_with(level.output, "--log-level: "));
    CHECK(one_line(level.output));

    const auto empty_dir = run({"--data-dir", ""});
    CHECK(empty_dir.action == cfg::command_action::exit_error);
    CHECK(starts_with(empty_dir.output, "--data-dir: "));

    const auto missing_value = run({"--data-dir"});
    CHECK(missing_value.action == cfg::command_action::exit_error);
    CHECK(missing_value.output.find("--data-dir") != std::string::npos);
    CHECK(one_line(missing_value.output));

    const auto twice = run({"--config", "a.json", "--config", "b.json"});
    CHECK(twice.action == cfg::command_action::exit_error);
    CHECK(twice.output.find("--config") != std::string::npos);
}

TEST_CASE("config: --check-config summarizes endpoints, data_dir and prefixes", "[config]") {
    const auto defaults = run({"--check-config"});
    REQUIRE(defaults.action == cfg::command_action::check_config);
    INFO(defaults.output);
    CHECK(defaults.output.find("0.0.0.0:8080") != std::string::npos);
    CHECK(defaults.output.find("bitsd-data") != std::string::npos);
    CHECK(defaults.output.find("/uploads/ -> ") != std::string::npos);

#ifndef _WIN32  // the example configures a notification, refused by the Windows build
    const auto example = run({"--config", example_file().string(), "--check-config"});
    INFO(example.output);
    REQUIRE(example.action == cfg::command_action::check_config);
    CHECK(example.output.find("[::1]:8080") != std::string::npos);
    CHECK(example.output.find("/crash-dumps/ -> /srv/bitsd/crash-dumps") != std::string::npos);
    CHECK(example.config.uploads.size() == 2);
#endif
}
