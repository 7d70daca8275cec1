// Configuration from the environment (BITSD_*), its place in the precedence (flags > environment
// > file > defaults) and relative paths in a config file (relative to the file's folder).

#include "config/command_line.hpp"
#include "config/environment.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

using bitsd::test::temp_dir;
using env_map = std::map<std::string, std::string>;

cfg::environment fake(const env_map& vars) {
    return [vars](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

cfg::command_result run(const env_map& vars, std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"bitsd"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const auto& arg : storage) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    return cfg::parse_command_line(static_cast<int>(storage.size()), argv.data(), fake(vars));
}

std::string write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream file(path, std::ios::binary);
    file << text;
    return path.string();
}

std::string endpoints(const cfg::settings& s) {
    std::string text;
    for (const auto& e : s.listen) text += (text.empty() ? "" : " ") + cfg::to_string(e);
    return text;
}

}  // namespace

TEST_CASE("env: BITSD_LISTEN, BITSD_DATA_DIR and BITSD_LOG_LEVEL set what their flags set",
          "[config][env]") {
    const auto result = run({{"BITSD_LISTEN", "127.0.0.1:9000, [::1]:9001"},
                             {"BITSD_DATA_DIR", "/var/lib/x"},
                             {"BITSD_LOG_LEVEL", "debug"}},
                            {});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(endpoints(result.config) == "127.0.0.1:9000 [::1]:9001");
    CHECK(result.config.data_dir == fs::path("/var/lib/x"));
    // As with --data-dir, the default upload destination follows data_dir.
    REQUIRE(result.config.uploads.size() == 1);
    CHECK(result.config.uploads[0].destination_dir == fs::path("/var/lib/x") / "files");
    CHECK(result.config.level == cfg::log_level::debug);
}

TEST_CASE("env: BITSD_LOG_FORMAT, BITSD_ADMIN_LISTEN and BITSD_ADMIN_ALLOWED_HOSTS set their keys", "[config][env]") {
    auto result = run({{"BITSD_LOG_FORMAT", "json"}, {"BITSD_ADMIN_LISTEN", "127.0.0.1:9191"}}, {});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.format == cfg::log_format::json);
    REQUIRE(result.config.admin_listen);
    CHECK(cfg::to_string(*result.config.admin_listen) == "127.0.0.1:9191");
    result = run({{"BITSD_ADMIN_LISTEN", "off"}}, {});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK_FALSE(result.config.admin_listen);
    result = run({{"BITSD_ADMIN_ALLOWED_HOSTS", "Admin.Example, status.internal"}}, {});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.admin_allowed_hosts == std::vector<std::string>{"admin.example", "status.internal"});
    // The flag still wins.
    result = run({{"BITSD_LOG_FORMAT", "json"}}, {"--log-format", "text"});
    CHECK(result.config.format == cfg::log_format::text);
}

TEST_CASE("env: BITSD_PUBLIC_BASE_URL sets public_base_url over the file", "[config][env]") {
    temp_dir dir;
    const auto file = write_file(dir.path() / "bitsd.json", R"({"public_base_url": "http://file.example",
        "uploads": [{"url_prefix": "/u/", "destination_dir": "files",
                     "notification": {"type": "reference", "url": "notify.asp"}}]})");
    auto result = run({}, {"--config", file});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.public_base_url == "http://file.example");
    result = run({{"BITSD_PUBLIC_BASE_URL", "https://env.example:8443/"}}, {"--config", file});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.public_base_url == "https://env.example:8443");
    // The relative URL is checked once every source is read: the variable alone suffices.
    const auto without = write_file(dir.path() / "without.json", R"({"uploads": [{"url_prefix": "/u/",
        "destination_dir": "files", "notification": {"type": "reference", "url": "notify.asp"}}]})");
    result = run({}, {"--config", without});
    CHECK(result.action == cfg::command_action::exit_error);
    CHECK(result.output.find("uploads[0].notification.url: the relative URL") != std::string::npos);
    result = run({{"BITSD_PUBLIC_BASE_URL", "https://env.example"}}, {"--config", without});
    CHECK(result.action == cfg::command_action::run);
}

TEST_CASE("env: an empty variable counts as unset", "[config][env]") {
    const auto result = run({{"BITSD_LISTEN", ""}, {"BITSD_DATA_DIR", ""}, {"BITSD_LOG_LEVEL", ""},
                             {"BITSD_CONFIG", ""}},
                            {});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(endpoints(result.config) == "0.0.0.0:8080");
    CHECK(result.config.data_dir == fs::path("bitsd-data"));
}

TEST_CASE("env: a bad value is one line naming the variable", "[config][env]") {
    for (const auto& [name, value, words] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"BITSD_LISTEN", "localhost:80", "BITSD_LISTEN \"localhost:80\": entry 1: "},
             {"BITSD_LISTEN", "127.0.0.1:1,", "entry 2: empty entry"},
             {"BITSD_LISTEN", "127.0.0.1:1,127.0.0.1:1", "entry 2: "},
             {"BITSD_LOG_LEVEL", "loud", "BITSD_LOG_LEVEL: expected one of"},
             {"BITSD_LOG_FORMAT", "xml", "BITSD_LOG_FORMAT: expected text or json"},
             {"BITSD_ADMIN_LISTEN", "nowhere", "BITSD_ADMIN_LISTEN \"nowhere\": "},
             {"BITSD_PUBLIC_BASE_URL", "https://b/path", "BITSD_PUBLIC_BASE_URL: must be an http:// or https:// URL"},
             {"BITSD_ADMIN_ALLOWED_HOSTS", "a.example,,b", "BITSD_ADMIN_ALLOWED_HOSTS \"a.example,,b\": entry 2: "},
             {"BITSD_ADMIN_ALLOWED_HOSTS", "a.example:80", "BITSD_ADMIN_ALLOWED_HOSTS \"a.example:80\": entry 1: "},
             {"BITSD_CONFIG", "/nonexistent/bitsd.json", "BITSD_CONFIG: cannot read"}}) {
        INFO(name << "=" << value);
        const auto result = run({{name, value}}, {});
        CHECK(result.action == cfg::command_action::exit_error);
        INFO(result.output);
        CHECK(result.output.find(words) != std::string::npos);
        CHECK(result.output.find('\n') == std::string::npos);
    }
}

TEST_CASE("env: precedence is flags > environment > file > defaults", "[config][env]") {
    temp_dir dir;
    const auto file = write_file(dir / "bitsd.json", R"({"listen": ["127.0.0.1:7000"],
        "data_dir": "/from/file", "log_level": "warn"})");

    const auto file_only = run({}, {"--config", file});
    CHECK(endpoints(file_only.config) == "127.0.0.1:7000");
    CHECK(file_only.config.data_dir == fs::path("/from/file"));
    CHECK(file_only.config.level == cfg::log_level::warn);

    const env_map env{{"BITSD_LISTEN", "127.0.0.1:7001"}, {"BITSD_DATA_DIR", "/from/env"},
                      {"BITSD_LOG_LEVEL", "error"}};
    const auto env_over_file = run(env, {"--config", file});
    CHECK(endpoints(env_over_file.config) == "127.0.0.1:7001");
    CHECK(env_over_file.config.data_dir == fs::path("/from/env"));
    CHECK(env_over_file.config.level == cfg::log_level::error);

    const auto flags_over_env = run(env, {"--config", file, "--listen", "127.0.0.1:7002",
                                          "--data-dir", "/from/flag", "--log-level", "trace"});
    CHECK(endpoints(flags_over_env.config) == "127.0.0.1:7002");
    CHECK(flags_over_env.config.data_dir == fs::path("/from/flag"));
    CHECK(flags_over_env.config.level == cfg::log_level::trace);

    // What neither sets keeps the file's value, or the default.
    const auto partial = run({{"BITSD_LOG_LEVEL", "debug"}}, {"--config", file});
    CHECK(endpoints(partial.config) == "127.0.0.1:7000");
    CHECK(partial.config.level == cfg::log_level::debug);
    CHECK(partial.config.fsync == cfg::fsync_mode::durable);
}

TEST_CASE("env: BITSD_CONFIG names the file when --config is not given", "[config][env]") {
    temp_dir dir;
    const auto file = write_file(dir / "a.json", R"({"listen": ["127.0.0.1:7100"]})");
    const auto other = write_file(dir / "b.json", R"({"listen": ["127.0.0.1:7200"]})");
    CHECK(endpoints(run({{"BITSD_CONFIG", file}}, {}).config) == "127.0.0.1:7100");
    CHECK(endpoints(run({{"BITSD_CONFIG", file}}, {"--config", other}).config) == "127.0.0.1:7200");
}

TEST_CASE("config: relative paths in a config file resolve against the file's folder",
          "[config][env]") {
    temp_dir dir;
    const fs::path folder = dir / "etc" / "bitsd";
    const auto file = write_file(folder / "bitsd.json", R"({"data_dir": "state",
        "uploads": [{"url_prefix": "/u/", "destination_dir": "../files"},
                    {"url_prefix": "/a/", "destination_dir": "/abs/dest"}]})");
    const auto result = run({}, {"--config", file});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.data_dir == folder / "state");
    REQUIRE(result.config.uploads.size() == 2);
    CHECK(result.config.uploads[0].destination_dir == dir / "etc" / "files");
    CHECK(result.config.uploads[1].destination_dir == fs::path("/abs/dest"));
}

TEST_CASE("config: paths the file does not set stay relative to the working directory",
          "[config][env]") {
    temp_dir dir;
    const auto file = write_file(dir / "conf" / "bitsd.json", R"({"listen": ["127.0.0.1:0"]})");
    const auto defaults = run({}, {"--config", file});
    CHECK(defaults.config.data_dir == fs::path("bitsd-data"));
    CHECK(defaults.config.uploads[0].destination_dir == fs::path("bitsd-data") / "files");
    // Flags and the environment are the operator's own words: relative to where bitsd runs.
    CHECK(run({}, {"--config", file, "--data-dir", "rel"}).config.data_dir == fs::path("rel"));
    CHECK(run({{"BITSD_DATA_DIR", "rel2"}}, {"--config", file}).config.data_dir == fs::path("rel2"));
    // The file's data_dir anchored, the default upload follows it.
    const auto data_only = run({}, {"--config", write_file(dir / "conf" / "d.json",
                                                           R"({"data_dir": "d"})")});
    CHECK(data_only.config.data_dir == dir / "conf" / "d");
    CHECK(data_only.config.uploads[0].destination_dir == dir / "conf" / "d" / "files");
}

TEST_CASE("config: --probe with a URL needs no configuration; without one it reads it",
          "[config][env]") {
    const auto with_url = run({{"BITSD_CONFIG", "/nonexistent.json"}},
                              {"--probe", "http://127.0.0.1:1/healthz"});
    CHECK(with_url.action == cfg::command_action::probe);
    CHECK(with_url.probe_url == std::optional<std::string>("http://127.0.0.1:1/healthz"));

    const auto own = run({{"BITSD_LISTEN", "0.0.0.0:7300"}}, {"--probe"});
    CHECK(own.action == cfg::command_action::probe);
    CHECK_FALSE(own.probe_url);
    CHECK(endpoints(own.config) == "0.0.0.0:7300");
}

TEST_CASE("config: --create-dirs only goes with --check-config", "[config][env]") {
    CHECK(run({}, {"--create-dirs"}).action == cfg::command_action::exit_error);
    const auto check = run({}, {"--check-config", "--create-dirs"});
    CHECK(check.action == cfg::command_action::check_config);
    CHECK(check.create_directories);
    CHECK_FALSE(run({}, {"--check-config"}).create_directories);
}

TEST_CASE("config: --version names the git commit", "[config][env]") {
    const auto result = run({}, {"--version"});
    CHECK(result.output.find("(git ") != std::string::npos);
    CHECK(result.output == cfg::version_line());
}
