// listen entries as objects with "tls" (issue 9): parsing, errors naming the key, relative
// paths, reload, and the rule that Basic needs a TLS listener unless allowed without.

#include "config/command_line.hpp"
#include "config/config.hpp"
#include "config/reload_plan.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

// The error of parsing `json` as a whole config ("" when it is valid).
std::string error_of(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    return error ? error->message : "";
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

const char* const tls_two = R"({"listen": ["127.0.0.1:8080",
    {"address": "127.0.0.1:8443", "tls": {"cert": "/etc/bitsd/cert.pem", "key": "/etc/bitsd/key.pem"}}]})";

}  // namespace

TEST_CASE("tls listen: strings and objects mix; an object may have tls or not", "[config][tls]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(tls_two, s));
    REQUIRE(s.listen.size() == 2);
    CHECK(s.listen[0].host == "127.0.0.1");
    CHECK(s.listen[0].port == 8080);
    CHECK_FALSE(s.listen[0].tls);
    CHECK(s.listen[1].port == 8443);
    REQUIRE(s.listen[1].tls);
    CHECK(s.listen[1].tls->cert == fs::path("/etc/bitsd/cert.pem"));
    CHECK(s.listen[1].tls->key == fs::path("/etc/bitsd/key.pem"));

    cfg::settings plain;
    REQUIRE_FALSE(cfg::parse_json(R"({"listen": [{"address": "[::1]:9000"}]})", plain));
    REQUIRE(plain.listen.size() == 1);
    CHECK(plain.listen[0].host == "::1");
    CHECK_FALSE(plain.listen[0].tls);
}

TEST_CASE("tls listen: every mistake names its key", "[config][tls]") {
    struct row {
        const char* json;
        const char* message_start;
    };
    const row rows[] = {
        {R"({"listen": [{"tls": {"cert": "c", "key": "k"}}]})", "listen[0].address: is required"},
        {R"({"listen": ["127.0.0.1:1", {"address": "127.0.0.1:2", "port": 3}]})", "listen[1]: unknown key \"port\""},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": {"key": "k"}}]})", "listen[0].tls.cert: is required"},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": {"cert": "c"}}]})", "listen[0].tls.key: is required"},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": {"cert": "c", "key": "k", "ca": "x"}}]})",
         "listen[0].tls: unknown key \"ca\""},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": {"cert": "", "key": "k"}}]})", "listen[0].tls.cert: must not be empty"},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": {"cert": 5, "key": "k"}}]})", "listen[0].tls.cert: expected a path string"},
        {R"({"listen": [{"address": "127.0.0.1:2", "tls": true}]})", "listen[0].tls: expected an object"},
        {R"({"listen": [{"address": 8443}]})", "listen[0].address: expected a \"host:port\" string"},
        {R"({"listen": [{"address": "localhost:8443"}]})", "listen[0].address: \"localhost\" is not an IP address"},
        {R"({"listen": ["127.0.0.1:2", {"address": "127.0.0.1:2", "tls": {"cert": "c", "key": "k"}}]})",
         "listen[1].address: duplicate endpoint 127.0.0.1:2 (also listen[0])"},
        {R"({"listen": [5]})", "listen[0]: expected a \"host:port\" string or an object"},
    };
    for (const auto& r : rows) {
        INFO(r.json);
        const auto message = error_of(r.json);
        CHECK(starts_with(message, r.message_start));
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("tls listen: relative cert and key paths are relative to the config file's folder", "[config][tls]") {
    bitsd::test::temp_dir dir;
    fs::create_directories(dir.path() / "etc");
    const auto file = dir.path() / "etc" / "bitsd.json";
    std::ofstream(file) << R"({"listen": [{"address": "127.0.0.1:0", "tls": {"cert": "tls/cert.pem", "key": "/abs/key.pem"}}]})";
    const std::string path = file.string();
    const char* argv[] = {"bitsd", "--config", path.c_str(), nullptr};
    const auto result = cfg::parse_command_line(3, argv, [](const char*) -> const char* { return nullptr; });
    INFO(result.output);
    REQUIRE(result.action == cfg::command_action::run);
    REQUIRE(result.config.listen.size() == 1);
    REQUIRE(result.config.listen[0].tls);
    CHECK(result.config.listen[0].tls->cert == (fs::absolute(dir.path()) / "etc" / "tls" / "cert.pem").lexically_normal());
    CHECK(result.config.listen[0].tls->key == fs::path("/abs/key.pem"));
}

TEST_CASE("tls listen: new cert paths reload; adding or removing tls needs a restart", "[config][tls][reload]") {
    cfg::settings running;
    REQUIRE_FALSE(cfg::parse_json(tls_two, running));
    auto candidate = running;
    candidate.listen[1].tls->cert = "/etc/bitsd/new-cert.pem";
    auto plan = cfg::plan_reload(running, candidate);
    CHECK(plan.needs_restart.empty());
    CHECK(plan.next.listen[1].tls->cert == fs::path("/etc/bitsd/new-cert.pem"));
    CHECK(std::find(plan.changed.begin(), plan.changed.end(), "listen[1].tls") != plan.changed.end());

    auto toggled = running;
    toggled.listen[0].tls = cfg::tls_files{"c", "k"};
    toggled.listen[1].tls->cert = "/elsewhere.pem";
    plan = cfg::plan_reload(running, toggled);
    REQUIRE(plan.needs_restart == std::vector<std::string>{"listen"});
    // The running listeners stay, with their files (read again: their content may be new).
    CHECK_FALSE(plan.next.listen[0].tls);
    CHECK(plan.next.listen[1].tls->cert == fs::path("/etc/bitsd/cert.pem"));
}

TEST_CASE("tls listen: Basic without allow_basic_without_tls needs a TLS listener", "[config][tls][auth]") {
    bitsd::test::temp_dir dir;
    const auto users = (dir.path() / "users").string();
    const std::string uploads = R"("uploads": [{"url_prefix": "/u/", "destination_dir": "f",
        "auth": {"type": "basic", "credentials_file": ")" + users + R"("}}])";
    const auto plain = error_of(R"({"listen": ["127.0.0.1:1"], )" + uploads + "}");
    CHECK(starts_with(plain, "uploads[0].auth.allow_basic_without_tls: "));
    CHECK(plain.find("no listener has \"tls\"") != std::string::npos);
    CHECK(error_of(R"({"listen": ["127.0.0.1:1", {"address": "127.0.0.1:2", "tls": {"cert": "c", "key": "k"}}], )" +
                   uploads + "}") == "");
}

TEST_CASE("tls listen: --listen replaces TLS listeners, and Basic then needs allow_basic_without_tls",
          "[config][tls][auth]") {
    bitsd::test::temp_dir dir;
    const auto file = dir.path() / "bitsd.json";
    std::ofstream(file) << R"({"listen": [{"address": "127.0.0.1:0", "tls": {"cert": "c.pem", "key": "k.pem"}}],
        "uploads": [{"url_prefix": "/u/", "destination_dir": "f",
                     "auth": {"type": "basic", "credentials_file": "users"}}]})";
    const std::string path = file.string();
    const auto no_env = [](const char*) -> const char* { return nullptr; };
    const char* with_file[] = {"bitsd", "--config", path.c_str(), nullptr};
    const auto ok = cfg::parse_command_line(3, with_file, no_env);
    INFO(ok.output);
    CHECK(ok.action == cfg::command_action::run);
    const char* flagged[] = {"bitsd", "--config", path.c_str(), "--listen", "127.0.0.1:8080", nullptr};
    const auto refused = cfg::parse_command_line(5, flagged, no_env);
    CHECK(refused.action == cfg::command_action::exit_error);
    CHECK(refused.output.find("uploads[0].auth.allow_basic_without_tls: ") != std::string::npos);
}
