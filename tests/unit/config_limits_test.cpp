// The "limits" object (issue 9): defaults, the example file, and one error per bad key naming
// the key path.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    return error ? error->message : std::string();
}

}  // namespace

TEST_CASE("limits: defaults when the file says nothing", "[config][limits]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json("{}", s));
    CHECK(s.limits.max_connections == 10000);
    CHECK(s.limits.max_connections_per_client == 256);
    CHECK(s.limits.max_open_sessions_per_client == 1000);
    CHECK(s.limits.create_sessions_per_minute_per_client == 600);
    CHECK(s.limits.min_free_disk_bytes == 256ull * 1024 * 1024);
    CHECK(s.limits.min_free_inodes == 10000);
    CHECK(s.limits.auth_failures_per_minute_per_client == 30);
}

TEST_CASE("limits: every key is read; keys left out keep their defaults", "[config][limits]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(R"({"limits": {"max_connections": 5, "max_connections_per_client": 0,
        "max_open_sessions_per_client": 7, "create_sessions_per_minute_per_client": 0,
        "min_free_disk_bytes": 0, "auth_failures_per_minute_per_client": 0}})", s));
    CHECK(s.limits.auth_failures_per_minute_per_client == 0);
    CHECK(s.limits.max_connections == 5);
    CHECK(s.limits.max_connections_per_client == 0);
    CHECK(s.limits.max_open_sessions_per_client == 7);
    CHECK(s.limits.create_sessions_per_minute_per_client == 0);
    CHECK(s.limits.min_free_disk_bytes == 0);
    CHECK(s.limits.min_free_inodes == 10000);
}

// [posix]: the example file configures a notification, which the Windows build refuses
// (config_platform_support_test.cpp checks that refusal under wine).
TEST_CASE("limits: the example file sets every key", "[config][limits][posix]") {
    const auto path = fs::path(__FILE__).parent_path().parent_path().parent_path() / "config" / "bitsd.example.json";
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    cfg::settings s;
    const auto error = cfg::parse_json(text.str(), s);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    CHECK(s.limits.max_connections == 10000);
    CHECK(s.limits.max_connections_per_client == 256);
    CHECK(s.limits.max_admin_connections == 64);
    CHECK(s.limits.max_open_sessions_per_client == 1000);
    CHECK(s.limits.create_sessions_per_minute_per_client == 600);
    CHECK(s.limits.min_free_disk_bytes == 268435456);
    CHECK(s.limits.min_free_inodes == 10000);
    CHECK(s.limits.max_sync_deliveries == 64);
    CHECK(s.limits.auth_failures_per_minute_per_client == 30);
    REQUIRE(s.uploads.size() == 2);
    CHECK(s.uploads[0].max_sessions_per_user == 50);
    CHECK(s.uploads[0].auth.type == cfg::auth_type::none);
    CHECK(s.uploads[1].max_sessions_per_user == 0);
}

TEST_CASE("uploads[].max_sessions_per_user: default, read, refused with its key path", "[config][limits]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json("{}", s));
    CHECK(s.uploads[0].max_sessions_per_user == 0);
    REQUIRE_FALSE(cfg::parse_json(R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/u",
        "max_sessions_per_user": 50}]})", s));
    CHECK(s.uploads[0].max_sessions_per_user == 50);
    for (const char* bad : {"-1", "1.5", "\"5\"", "true", "null"}) {
        CAPTURE(bad);
        CHECK(error_of(std::string(R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/u",
            "max_sessions_per_user": )") + bad + "}]}").rfind("uploads[0].max_sessions_per_user: expected a non-negative integer", 0) == 0);
    }
}

TEST_CASE("limits: every bad value is refused with its key path", "[config][limits]") {
    CHECK(error_of(R"({"limits": 5})") == "limits: expected an object, got 5");
    CHECK(error_of(R"({"limits": []})") == "limits: expected an object, got an array");
    CHECK(error_of(R"({"limits": {"max_conections": 5}})") == "limits: unknown key \"max_conections\"");
    CHECK(error_of(R"({"limits": {"max_connections": 0}})") ==
          "limits.max_connections: expected a positive integer, got 0");
    for (const char* key : {"max_connections", "max_connections_per_client", "max_open_sessions_per_client",
                            "create_sessions_per_minute_per_client", "min_free_disk_bytes", "min_free_inodes",
                            "auth_failures_per_minute_per_client"}) {
        CAPTURE(key);
        const std::string k = key;
        for (const char* bad : {"-1", "1.5", "\"5\"", "true", "null", "{}"}) {
            CAPTURE(bad);
            const auto message = error_of("{\"limits\": {\"" + k + "\": " + bad + "}}");
            CHECK(message.rfind("limits." + k + ": expected a ", 0) == 0);
        }
    }
    // A refused document changes nothing.
    cfg::settings s;
    s.limits.max_connections = 77;
    REQUIRE(cfg::parse_json(R"({"limits": {"min_free_inodes": 1, "max_connections": -1}})", s));
    CHECK(s.limits.max_connections == 77);
    CHECK(s.limits.min_free_inodes == 10000);
}

// The limits that must be positive (0 would refuse every sync delivery, or every admin
// connection: a typo, not a configuration), each with its default.
TEST_CASE("limits: the positive-only keys: default, read, refused with their key path", "[config][limits]") {
    struct positive_key {
        const char* name;
        std::uint64_t cfg::abuse_limits::*member;
        std::uint64_t default_value;
    };
    for (const auto& key : {positive_key{"max_sync_deliveries", &cfg::abuse_limits::max_sync_deliveries, 64},
                            positive_key{"max_admin_connections", &cfg::abuse_limits::max_admin_connections, 64}}) {
        CAPTURE(key.name);
        const std::string path = std::string("limits.") + key.name;
        const auto with = [&](const std::string& value) {
            return std::string(R"({"limits": {")") + key.name + "\": " + value + "}}";
        };
        cfg::settings s;
        REQUIRE_FALSE(cfg::parse_json("{}", s));
        CHECK(s.limits.*key.member == key.default_value);
        REQUIRE_FALSE(cfg::parse_json(with("3"), s));
        CHECK(s.limits.*key.member == 3);
        CHECK(error_of(with("0")) == path + ": expected a positive integer, got 0");
        for (const char* bad : {"-1", "1.5", "\"5\"", "true", "null", "{}"}) {
            CAPTURE(bad);
            CHECK(error_of(with(bad)).rfind(path + ": expected a positive integer", 0) == 0);
        }
    }
}
