// What the build for this platform cannot do is refused when the configuration is read, naming
// the key (config/platform_support.hpp). The Windows build (no OpenSSL, no libxcrypt) refuses
// uploads[].notification and auth.type "basic"; these cases run under wine in CI. On Linux the
// same files are accepted.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

const std::string notifying = R"({"uploads": [
    {"url_prefix": "/a/", "destination_dir": "/tmp/a"},
    {"url_prefix": "/b/", "destination_dir": "/tmp/b",
     "notification": {"type": "reference", "url": "http://backend.internal/ingest"}}]})";

const std::string basic = R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/u",
    "auth": {"type": "basic", "credentials_file": "/tmp/users", "allow_basic_without_tls": true}}]})";

const std::string trusted_header = R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/u",
    "notification": {"type": "none"},
    "auth": {"type": "trusted-header", "trusted_proxies": ["10.0.0.0/8"]}}]})";

std::string error_of(const std::string& json) {
    cfg::settings s;
    const auto error = cfg::parse_json(json, s);
    return error ? error->message : std::string();
}

std::string example_text() {
    // tests/unit/<this file> -> <source root>/config/bitsd.example.json
    const auto path = fs::path(__FILE__).parent_path().parent_path().parent_path() / "config" / "bitsd.example.json";
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace

#ifdef _WIN32

TEST_CASE("platform: the Windows build refuses a notification, naming the key", "[config][platform]") {
    CHECK(error_of(notifying) ==
          "uploads[1].notification: delivery to a back-end is not available in the Windows build (no "
          "OpenSSL); run bitsd on Linux for notifications");
    // The example file configures one too: a Windows node is told, not silently left without it.
    const std::string example = example_text();
    REQUIRE_FALSE(example.empty());
    CHECK(error_of(example).rfind("uploads[0].notification: delivery to a back-end is not available", 0) == 0);
}

TEST_CASE("platform: the Windows build refuses Basic authentication, naming the key", "[config][platform]") {
    CHECK(error_of(basic) ==
          "uploads[0].auth.type: \"basic\" is not available in the Windows build (no libxcrypt); use "
          "\"trusted-header\" behind a proxy");
}

#endif

TEST_CASE("platform: trusted-header and notification type none are accepted everywhere", "[config][platform]") {
    cfg::settings s;
    const auto error = cfg::parse_json(trusted_header, s);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    CHECK(s.uploads.at(0).auth.type == cfg::auth_type::trusted_header);
    CHECK(s.uploads.at(0).notification.type == cfg::notification_type::none);
}

#ifndef _WIN32

TEST_CASE("platform: the POSIX build accepts notifications and Basic authentication", "[config][platform]") {
    CHECK(error_of(notifying).empty());
    CHECK(error_of(basic).empty());
    CHECK(error_of(example_text()).empty());
}

#endif
