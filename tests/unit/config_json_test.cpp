// The JSON side of the config layer: defaults, the example file, and one error per bad key,
// each naming the key path first so the admin knows where to look.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

fs::path example_file() {
    // tests/unit/<this file> -> <source root>/config/bitsd.example.json
    return fs::path(__FILE__).parent_path().parent_path().parent_path() / "config" /
           "bitsd.example.json";
}

std::string read_text(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

// Parses `json` and returns the error message ("" when it parsed).
std::string error_of(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    return error ? error->message : std::string();
}

}  // namespace

TEST_CASE("an empty document gives the embedded defaults", "[config]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json("{}", s));
    REQUIRE(s.listen.size() == 1);
    CHECK(s.listen[0].host == "0.0.0.0");
    CHECK(s.listen[0].port == 8080);
    CHECK(s.data_dir == fs::path("bitsd-data"));
    REQUIRE(s.uploads.size() == 1);
    CHECK(s.uploads[0].url_prefix == "/uploads/");
    CHECK(s.uploads[0].destination_dir == fs::path("bitsd-data") / "files");
    CHECK_FALSE(s.uploads[0].allow_overwrites);
    CHECK_FALSE(s.uploads[0].allow_nested_destination);
    CHECK(s.uploads[0].max_upload_size == 0);
    CHECK(s.uploads[0].session_timeout_s == 1209600);
    CHECK(s.fsync == cfg::fsync_mode::durable);
    CHECK(s.max_fragment_size == 32ull * 1024 * 1024);
    CHECK_FALSE(s.host_id);
    CHECK_FALSE(s.host_id_fallback_timeout_s);
    CHECK(s.read_timeout_s == 120);
    CHECK(s.idle_timeout_s == 120);
    CHECK(s.cleanup_interval_s == 3600);
    CHECK(s.shutdown_timeout_s == 8);
    CHECK(s.threads == 0);
    CHECK(s.level == cfg::log_level::info);
}

TEST_CASE("parse_json starts from the defaults, not from what out held", "[config]") {
    cfg::settings s;
    s.threads = 7;
    s.data_dir = "elsewhere";
    REQUIRE_FALSE(cfg::parse_json(R"({"log_level": "debug"})", s));
    CHECK(s.threads == 0);
    CHECK(s.data_dir == fs::path("bitsd-data"));
    CHECK(s.level == cfg::log_level::debug);
}

TEST_CASE("the default upload destination follows data_dir", "[config]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(R"({"data_dir": "/srv/b"})", s));
    REQUIRE(s.uploads.size() == 1);
    CHECK(s.uploads[0].destination_dir == fs::path("/srv/b") / "files");
}

// [posix]: the example file configures a notification, which the Windows build refuses
// (config_platform_support_test.cpp checks that refusal under wine).
TEST_CASE("the example config file sets every key and parses", "[config][posix]") {
    const std::string text = read_text(example_file());
    REQUIRE_FALSE(text.empty());
    cfg::settings s;
    const auto error = cfg::parse_json(text, s);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    REQUIRE(s.listen.size() == 2);
    CHECK(s.listen[0].host == "0.0.0.0");
    CHECK(s.listen[0].port == 8080);
    CHECK(s.listen[1].host == "::1");
    CHECK(s.listen[1].port == 8080);
    CHECK(s.data_dir == fs::path("/var/lib/bitsd"));
    CHECK(s.max_fragment_size == 33554432);
    CHECK(s.host_id == std::optional<std::string>("uploads.example.com"));
    CHECK(s.host_id_fallback_timeout_s == std::optional<std::uint64_t>(60));
    CHECK(s.fsync == cfg::fsync_mode::durable);
    REQUIRE(s.uploads.size() == 2);
    CHECK(s.uploads[0].url_prefix == "/uploads/");
    CHECK(s.uploads[0].destination_dir == fs::path("/srv/bitsd/uploads"));
    CHECK(s.uploads[1].url_prefix == "/crash-dumps/");
    CHECK(s.uploads[1].destination_dir == fs::path("/srv/bitsd/crash-dumps"));
    CHECK(s.uploads[1].allow_overwrites);
    CHECK_FALSE(s.uploads[0].allow_nested_destination);
    CHECK_FALSE(s.uploads[1].allow_nested_destination);
    CHECK(s.uploads[1].max_upload_size == 4294967296ull);
    CHECK(s.uploads[1].session_timeout_s == 86400);
    CHECK(s.uploads[0].notification.type == cfg::notification_type::reference);
    CHECK(s.uploads[0].notification.url == "http://backend.internal/ingest");
    CHECK(s.uploads[0].notification.signing_secret_file == fs::path("/etc/bitsd/backend.key"));
    CHECK(s.uploads[1].notification.type == cfg::notification_type::none);
    CHECK(s.read_timeout_s == 120);
    CHECK(s.idle_timeout_s == 120);
    CHECK(s.min_body_rate_bytes_per_s == 256);
    CHECK(s.busy_timeout_s == 60);
    CHECK(s.blocking_threads == 4);
    CHECK(s.cleanup_interval_s == 3600);
    CHECK(s.shutdown_timeout_s == 8);
    CHECK(s.threads == 0);
    CHECK(s.level == cfg::log_level::info);
}

TEST_CASE("every value the file can set is read", "[config]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(R"({
        "fsync": "none", "threads": 256, "log_level": "off", "read_timeout_s": 1,
        "idle_timeout_s": 2, "cleanup_interval_s": 3, "max_fragment_size": 1,
        "min_body_rate_bytes_per_s": 0, "busy_timeout_s": 4, "blocking_threads": 256,
        "shutdown_timeout_s": 0,
        "host_id": "10.0.0.1", "host_id_fallback_timeout_s": 0,
        "uploads": [{"url_prefix": "/", "destination_dir": "d", "max_upload_size": 5,
                     "session_timeout_s": 9, "allow_overwrites": true,
                     "allow_nested_destination": true}]
    })", s));
    CHECK(s.fsync == cfg::fsync_mode::none);
    CHECK(s.threads == 256);
    CHECK(s.level == cfg::log_level::off);
    CHECK(s.read_timeout_s == 1);
    CHECK(s.idle_timeout_s == 2);
    CHECK(s.min_body_rate_bytes_per_s == 0);
    CHECK(s.busy_timeout_s == 4);
    CHECK(s.blocking_threads == 256);
    CHECK(s.cleanup_interval_s == 3);
    CHECK(s.shutdown_timeout_s == 0);
    CHECK(s.max_fragment_size == 1);
    CHECK(s.host_id == std::optional<std::string>("10.0.0.1"));
    CHECK(s.host_id_fallback_timeout_s == std::optional<std::uint64_t>(0));
    REQUIRE(s.uploads.size() == 1);
    CHECK(s.uploads[0].url_prefix == "/");
    CHECK(s.uploads[0].destination_dir == fs::path("d"));
    CHECK(s.uploads[0].max_upload_size == 5);
    CHECK(s.uploads[0].session_timeout_s == 9);
    CHECK(s.uploads[0].allow_overwrites);
    CHECK(s.uploads[0].allow_nested_destination);
}

TEST_CASE("a bad value is an error that starts with its key path", "[config]") {
    struct row {
        const char* json;
        const char* expected_prefix;
    };
    const std::string long_host_id(301, 'h');
    const std::string long_host_id_json = R"({"host_id": ")" + long_host_id + "\"}";
    const std::vector<row> rows = {
        {R"({"listen": "0.0.0.0:80"})", "listen: expected an array"},
        {R"({"listen": []})", "listen: at least one endpoint"},
        {R"({"listen": [80]})", "listen[0]: expected"},
        {R"({"listen": ["0.0.0.0:80", "nohost:80"]})", "listen[1]: "},
        {R"({"listen": ["0.0.0.0:80", "0.0.0.0:80"]})", "listen[1]: duplicate endpoint"},
        {R"({"listen": ["[::1]:80", "[0:0::1]:80"]})", "listen[1]: duplicate endpoint"},
        {R"({"data_dir": 5})", "data_dir: expected"},
        {R"({"data_dir": ""})", "data_dir: must not be empty"},
        {R"({"max_fragment_size": "32M"})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": 0})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": -1})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": 1.5})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": 1e6})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": true})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": null})", "max_fragment_size: expected a positive integer"},
        {R"({"max_fragment_size": 18446744073709551616})", "max_fragment_size: expected"},
        {R"({"host_id": 5})", "host_id: expected a string"},
        {R"({"host_id": ""})", "host_id: must not be empty"},
        {R"({"host_id": "two words"})", "host_id: must be visible ASCII"},
        {R"({"host_id": "tab\there"})", "host_id: must be visible ASCII"},
        {R"({"host_id": "caf\u00e9"})", "host_id: must be visible ASCII"},
        {long_host_id_json.c_str(), "host_id: longer than 300"},
        {R"({"host_id": "h", "host_id_fallback_timeout_s": -1})",
         "host_id_fallback_timeout_s: expected a non-negative integer"},
        {R"({"host_id": "h", "host_id_fallback_timeout_s": "60"})",
         "host_id_fallback_timeout_s: expected a non-negative integer"},
        {R"({"fsync": "always"})", "fsync: expected \"durable\" or \"none\""},
        {R"({"fsync": false})", "fsync: expected"},
        {R"({"uploads": {}})", "uploads: expected an array"},
        {R"({"uploads": []})", "uploads: at least one upload prefix is required"},
        {R"({"uploads": [5]})", "uploads[0]: expected an object"},
        {R"({"uploads": [{"destination_dir": "d"}]})", "uploads[0].url_prefix: is required"},
        {R"({"uploads": [{"url_prefix": "/a/"}]})", "uploads[0].destination_dir: is required"},
        {R"({"uploads": [{"url_prefix": 5, "destination_dir": "d"}]})", "uploads[0].url_prefix: expected"},
        {R"({"uploads": [{"url_prefix": "", "destination_dir": "d"}]})", "uploads[0].url_prefix: must start"},
        {R"({"uploads": [{"url_prefix": "a/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must start"},
        {R"({"uploads": [{"url_prefix": "/a", "destination_dir": "d"}]})", "uploads[0].url_prefix: must start"},
        {R"({"uploads": [{"url_prefix": "/a/../", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain \"..\""},
        {R"({"uploads": [{"url_prefix": "/a..b/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain \"..\""},
        {R"({"uploads": [{"url_prefix": "/a\\b/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain '\\'"},
        {R"({"uploads": [{"url_prefix": "/a%20/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain '%'"},
        {R"({"uploads": [{"url_prefix": "/a?/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain '?'"},
        {R"({"uploads": [{"url_prefix": "/a#/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain '?' or '#'"},
        {R"({"uploads": [{"url_prefix": "/a b/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must be visible ASCII"},
        {R"({"uploads": [{"url_prefix": "/\u00e9/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must be visible ASCII"},
        {R"({"uploads": [{"url_prefix": "/a//b/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain an empty"},
        {R"({"uploads": [{"url_prefix": "/a/./b/", "destination_dir": "d"}]})", "uploads[0].url_prefix: must not contain a \".\""},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": 5}]})", "uploads[0].destination_dir: expected"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": ""}]})", "uploads[0].destination_dir: must not be empty"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d", "allow_overwrites": "yes"}]})",
         "uploads[0].allow_overwrites: expected true or false"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d", "allow_overwrites": 1}]})",
         "uploads[0].allow_overwrites: expected true or false"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d", "allow_nested_destination": "no"}]})",
         "uploads[0].allow_nested_destination: expected true or false"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d", "max_upload_size": -1}]})",
         "uploads[0].max_upload_size: expected a non-negative integer"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d", "session_timeout_s": 0}]})",
         "uploads[0].session_timeout_s: expected a positive integer"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d"},
                         {"url_prefix": "/b/", "destination_dir": "d", "session_timeout_s": "1"}]})",
         "uploads[1].session_timeout_s: expected a positive integer"},
        {R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d"},
                         {"url_prefix": "/a/", "destination_dir": "e"}]})",
         "uploads[1].url_prefix: duplicate prefix \"/a/\""},
        {R"({"read_timeout_s": 0})", "read_timeout_s: expected a positive integer"},
        {R"({"read_timeout_s": -5})", "read_timeout_s: expected a positive integer"},
        {R"({"read_timeout_s": "120"})", "read_timeout_s: expected a positive integer"},
        {R"({"read_timeout_s": 3153600001})", "read_timeout_s: must be at most 3153600000"},
        {R"({"idle_timeout_s": 0})", "idle_timeout_s: expected a positive integer"},
        {R"({"cleanup_interval_s": 0})", "cleanup_interval_s: expected a positive integer"},
        {R"({"cleanup_interval_s": [1]})", "cleanup_interval_s: expected a positive integer"},
        {R"({"threads": 257})", "threads: expected an integer from 0 to 256"},
        {R"({"blocking_threads": 0})", "blocking_threads: expected an integer from 1 to 256"},
        {R"({"blocking_threads": 257})", "blocking_threads: expected an integer from 1 to 256"},
        {R"({"busy_timeout_s": 0})", "busy_timeout_s: expected a positive integer"},
        {R"({"min_body_rate_bytes_per_s": -1})", "min_body_rate_bytes_per_s: expected"},
        {R"({"min_body_rate_bytes_per_s": "256"})", "min_body_rate_bytes_per_s: expected"},
        {R"({"threads": -1})", "threads: expected an integer from 0 to 256"},
        {R"({"threads": "4"})", "threads: expected an integer from 0 to 256"},
        {R"({"threads": 4.0})", "threads: expected an integer from 0 to 256"},
        {R"({"log_level": "verbose"})", "log_level: expected one of trace"},
        {R"({"shutdown_timeout_s": -1})", "shutdown_timeout_s: expected a non-negative integer"},
        {R"({"shutdown_timeout_s": "8"})", "shutdown_timeout_s: expected a non-negative integer"},
        {R"({"shutdown_timeout_s": 8.5})", "shutdown_timeout_s: expected a non-negative integer"},
        {R"({"shutdown_timeout_s": 3601})", "shutdown_timeout_s: must be at most 3600"},
        {R"({"log_level": 3})", "log_level: expected one of trace"},
    };
    for (const auto& r : rows) {
        INFO("json: " << r.json);
        cfg::settings s;
        s.threads = 99;  // proves a failed parse leaves `out` alone
        const auto error = cfg::parse_json(r.json, s);
        REQUIRE(error);
        INFO("message: " << error->message);
        CHECK(starts_with(error->message, r.expected_prefix));
        CHECK(error->message.find('\n') == std::string::npos);
        CHECK(s.threads == 99);
    }
}

TEST_CASE("what the user wrote is quoted back in type errors", "[config]") {
    CHECK(error_of(R"({"max_fragment_size": -1})") ==
          "max_fragment_size: expected a positive integer, got -1");
    CHECK(error_of(R"({"fsync": "always"})") ==
          "fsync: expected \"durable\" or \"none\", got \"always\"");
    CHECK(error_of(R"({"threads": {"a": 1}})") ==
          "threads: expected an integer from 0 to 256, got an object");
}

TEST_CASE("unknown keys are errors at both levels", "[config]") {
    CHECK(error_of(R"({"listne": ["0.0.0.0:80"]})") == "unknown key \"listne\"");
    CHECK(error_of(R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d"},
                                   {"url_prefix": "/b/", "destination": "d"}]})") ==
          "uploads[1]: unknown key \"destination\"");
    // A hostile key is escaped, so the message stays on one line.
    CHECK(error_of("{\"a\\nb\": 1}") == "unknown key \"a\\nb\"");
}

TEST_CASE("a key given twice is an error, not a silent last-one-wins", "[config]") {
    CHECK(error_of(R"({"threads": 1, "threads": 2})") == "duplicate key \"threads\"");
    CHECK(error_of(R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d"},
                                   {"url_prefix": "/b/", "destination_dir": "d",
                                    "url_prefix": "/c/"}]})") ==
          "uploads[1]: duplicate key \"url_prefix\"");
    // The same key in two different objects is fine.
    CHECK(error_of(R"({"uploads": [{"url_prefix": "/a/", "destination_dir": "d"},
                                   {"url_prefix": "/b/", "destination_dir": "d"}]})") == "");
}

TEST_CASE("host_id_fallback_timeout_s needs host_id", "[config]") {
    CHECK(error_of(R"({"host_id_fallback_timeout_s": 60})") ==
          "host_id_fallback_timeout_s: only valid together with host_id");
    CHECK(error_of(R"({"host_id": "node1", "host_id_fallback_timeout_s": 60})") == "");
}

TEST_CASE("malformed JSON reports the parser's position", "[config]") {
    const std::string message = error_of("{\n  \"threads\": 1,\n}");
    INFO(message);
    CHECK(starts_with(message, "invalid JSON: "));
    CHECK(message.find("line 3") != std::string::npos);
    CHECK(message.find("json.exception") == std::string::npos);
    CHECK(starts_with(error_of(""), "invalid JSON: "));
    CHECK(starts_with(error_of("{\"threads\": 1} trailing"), "invalid JSON: "));
    CHECK(starts_with(error_of("[1, 2]"), "the configuration must be a JSON object"));
}

TEST_CASE("log levels convert both ways", "[config]") {
    for (auto level : {cfg::log_level::trace, cfg::log_level::debug, cfg::log_level::info,
                       cfg::log_level::warn, cfg::log_level::error, cfg::log_level::critical,
                       cfg::log_level::off}) {
        CHECK(cfg::parse_log_level(cfg::to_string(level)) == level);
    }
    CHECK_FALSE(cfg::parse_log_level("INFO"));
    CHECK_FALSE(cfg::parse_log_level(""));
}

TEST_CASE("a UTF-8 byte order mark is accepted, broken UTF-8 is not echoed", "[config]") {
    // Windows editors like to start files with a BOM.
    CHECK(error_of("\xef\xbb\xbf{\"threads\": 2}") == "");
    const std::string message = error_of("{\"x\xff\": 1}");
    INFO(message);
    CHECK(starts_with(message, "invalid JSON: "));
    for (char c : message) CHECK((c >= 0x20 && c < 0x7f));
}
