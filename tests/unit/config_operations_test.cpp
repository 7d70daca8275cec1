// The operations keys (issue 8): admin_listen, log_format, access_log_level, their defaults,
// their errors (each naming the key) and the flags that override them.

#include "config/command_line.hpp"
#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <string>
#include <vector>

namespace cfg = bitsd::config;

namespace {

std::string error_of(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    return error ? error->message : std::string();
}

cfg::settings parsed(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    REQUIRE_FALSE(error);
    return s;
}

cfg::command_result run(std::vector<std::string> args) {
    args.insert(args.begin(), "bitsd");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    return cfg::parse_command_line(static_cast<int>(args.size()), argv.data());
}

}  // namespace

TEST_CASE("operations keys default to a loopback admin listener, text logs, access lines at info",
          "[config][operations]") {
    const auto s = parsed("{}");
    REQUIRE(s.admin_listen);
    CHECK(s.admin_listen->host == "127.0.0.1");
    CHECK(s.admin_listen->port == 9090);
    CHECK(s.format == cfg::log_format::text);
    CHECK(s.access_log_level == cfg::log_level::info);
}

TEST_CASE("admin_listen takes host:port, and \"off\" or null turns it off", "[config][operations]") {
    auto s = parsed(R"({"admin_listen": "[::1]:9191"})");
    REQUIRE(s.admin_listen);
    CHECK(s.admin_listen->host == "::1");
    CHECK(s.admin_listen->port == 9191);
    CHECK_FALSE(parsed(R"({"admin_listen": "off"})").admin_listen);
    CHECK_FALSE(parsed(R"({"admin_listen": null})").admin_listen);
}

TEST_CASE("bad operations values are refused naming the key", "[config][operations]") {
    CHECK(error_of(R"({"admin_listen": 9090})") ==
          "admin_listen: expected \"host:port\", \"off\" or null, got 9090");
    CHECK(error_of(R"({"admin_listen": ""})").rfind("admin_listen: ", 0) == 0);
    CHECK(error_of(R"({"admin_listen": "localhost:9090"})").rfind("admin_listen: ", 0) == 0);
    CHECK(error_of(R"({"admin_listen": "127.0.0.1:99999"})").rfind("admin_listen: ", 0) == 0);
    CHECK(error_of(R"({"log_format": "xml"})") == "log_format: expected \"text\" or \"json\", got \"xml\"");
    CHECK(error_of(R"({"log_format": true})") == "log_format: expected \"text\" or \"json\", got true");
    CHECK(error_of(R"({"access_log_level": "verbose"})") ==
          "access_log_level: expected one of trace, debug, info, warn, error, critical, off, got \"verbose\"");
}

TEST_CASE("the flags --log-format and --admin-listen override the file", "[config][operations]") {
    auto result = run({"--log-format", "json", "--admin-listen", "off"});
    REQUIRE(result.action == cfg::command_action::run);
    CHECK(result.config.format == cfg::log_format::json);
    CHECK_FALSE(result.config.admin_listen);

    result = run({"--admin-listen", "127.0.0.1:0"});
    REQUIRE(result.action == cfg::command_action::run);
    REQUIRE(result.config.admin_listen);
    CHECK(result.config.admin_listen->port == 0);

    result = run({"--log-format", "yaml"});
    CHECK(result.action == cfg::command_action::exit_error);
    CHECK(result.output == "--log-format: expected text or json, got \"yaml\"");
    result = run({"--admin-listen", "nowhere"});
    CHECK(result.action == cfg::command_action::exit_error);
    CHECK(result.output.rfind("--admin-listen \"nowhere\": ", 0) == 0);
}

// [posix]: the example file configures a notification, which the Windows build refuses
// (config_platform_support_test.cpp checks that refusal under wine).
TEST_CASE("the example config sets the operations keys to their defaults", "[config][operations][posix]") {
    // tests/unit/<this file> -> <source root>/config/bitsd.example.json
    const auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "config" /
                      "bitsd.example.json";
    std::ifstream file(path);
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    REQUIRE_FALSE(text.empty());
    const auto s = parsed(text);
    const cfg::settings defaults;
    REQUIRE(s.admin_listen);
    CHECK(cfg::to_string(*s.admin_listen) == cfg::to_string(*defaults.admin_listen));
    CHECK(s.format == defaults.format);
    CHECK(s.access_log_level == defaults.access_log_level);
    CHECK(s.admin_allowed_hosts == defaults.admin_allowed_hosts);
    for (const char* key : {"\"admin_listen\"", "\"admin_allowed_hosts\"", "\"log_format\"",
                            "\"access_log_level\""}) {
        INFO(key);
        CHECK(text.find(key) != std::string::npos);
    }
}

TEST_CASE("admin_allowed_hosts: empty by default, names kept in lower case", "[config][operations]") {
    CHECK(cfg::settings{}.admin_allowed_hosts.empty());
    const auto s = parsed(R"({"admin_allowed_hosts": ["Bitsd-Admin.Example.org", "status_1.internal"]})");
    CHECK(s.admin_allowed_hosts == std::vector<std::string>{"bitsd-admin.example.org", "status_1.internal"});
    CHECK(parsed(R"({"admin_allowed_hosts": []})").admin_allowed_hosts.empty());
}

TEST_CASE("bad admin_allowed_hosts values are refused naming the key", "[config][operations]") {
    CHECK(error_of(R"({"admin_allowed_hosts": "a.example"})") ==
          "admin_allowed_hosts: expected a list of host names, got \"a.example\"");
    for (const char* bad : {"[1]", "[\"\"]", "[\"a.example:9090\"]", "[\"a b\"]", "[\"*\"]",
                            "[\"a.example/x\"]", "[\"[::1]\"]", "[\"\u00e9.example\"]"}) {
        INFO(bad);
        CHECK(error_of(std::string(R"({"admin_allowed_hosts": )") + bad + "}").rfind("admin_allowed_hosts[0]: ", 0) ==
              0);
    }
    CHECK(error_of(R"({"admin_allowed_hosts": ["ok.example", "a..b"]})").rfind("admin_allowed_hosts[1]: ", 0) == 0);
    CHECK(error_of(std::string(R"({"admin_allowed_hosts": [")") + std::string(254, 'a') + "\"]}").rfind(
              "admin_allowed_hosts[0]: ", 0) == 0);
}
