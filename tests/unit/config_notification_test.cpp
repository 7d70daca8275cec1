// uploads[].notification (issue 7): defaults, every key read, and one error per bad value,
// each naming the key.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace cfg = bitsd::config;

namespace {

std::string with_notification(const std::string& notification) {
    return R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/x", "notification": )" +
           notification + "}]}";
}

std::string error_of(const std::string& notification) {
    cfg::settings s;
    const auto error = cfg::parse_json(with_notification(notification), s);
    return error ? error->message : std::string();
}

cfg::notification_settings parsed(const std::string& notification) {
    cfg::settings s;
    const auto error = cfg::parse_json(with_notification(notification), s);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    return s.uploads.at(0).notification;
}

}  // namespace

TEST_CASE("notification: absent means type none with the documented defaults", "[config][delivery]") {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(R"({"uploads": [{"url_prefix": "/u/", "destination_dir": "/tmp/x"}]})", s));
    const auto& n = s.uploads.at(0).notification;
    CHECK(n.type == cfg::notification_type::none);
    CHECK(n.url.empty());
    CHECK(n.timeout_s == 120);
    CHECK(n.delivery == cfg::delivery_mode::sync);
    CHECK(n.retry.initial_s == 1);
    CHECK(n.retry.max_s == 300);
    CHECK(n.retry.give_up_after_s == 604800);
    CHECK(n.signing_secret_file.empty());
}

TEST_CASE("notification: every key is read", "[config][delivery]") {
    const auto n = parsed(R"({"type": "reference", "url": "http://backend.internal/ingest",
        "timeout_s": 299, "delivery": "async",
        "retry": {"initial_s": 2, "max_s": 60, "give_up_after_s": 3600},
        "signing_secret_file": "/etc/bitsd/backend.key"})");
    CHECK(n.type == cfg::notification_type::reference);
    CHECK(n.url == "http://backend.internal/ingest");
    CHECK(n.timeout_s == 299);
    CHECK(n.delivery == cfg::delivery_mode::async);
    CHECK(n.retry.initial_s == 2);
    CHECK(n.retry.max_s == 60);
    CHECK(n.retry.give_up_after_s == 3600);
    CHECK(n.signing_secret_file == "/etc/bitsd/backend.key");
    CHECK(parsed(R"({"type": "value", "url": "notify.asp"})").type == cfg::notification_type::value);
    CHECK(parsed(R"({"type": "value", "url": "https://b.example/x?y=1"})").url == "https://b.example/x?y=1");
    CHECK(parsed(R"({"type": "none"})").type == cfg::notification_type::none);
}

TEST_CASE("notification: every bad value is refused naming its key", "[config][delivery]") {
    const std::string at = "uploads[0].notification";
    CHECK(error_of("true").rfind(at + ": expected an object", 0) == 0);
    CHECK(error_of(R"({"typ": "none"})") == at + ": unknown key \"typ\"");
    CHECK(error_of(R"({"type": "Reference", "url": "http://b/"})").rfind(at + ".type: expected", 0) == 0);
    CHECK(error_of(R"({"type": 1})").rfind(at + ".type: expected", 0) == 0);
    CHECK(error_of(R"({"type": "reference"})") == at + ".url: is required when type is not \"none\"");
    CHECK(error_of(R"({"type": "reference", "url": 5})").rfind(at + ".url: expected a URL string", 0) == 0);
    CHECK(error_of(R"({"type": "reference", "url": ""})") == at + ".url: must not be empty");
    CHECK(error_of(R"({"type": "reference", "url": "ftp://b/x"})").rfind(at + ".url: must be an absolute", 0) == 0);
    CHECK(error_of(R"({"type": "reference", "url": "http://user@b/x"})").rfind(at + ".url: must be", 0) == 0);
    CHECK(error_of(R"({"type": "reference", "url": "http://b/x#f"})").rfind(at + ".url: must be", 0) == 0);
    CHECK(error_of(R"({"type": "reference", "url": "http://b/x y"})").rfind(at + ".url: must be", 0) == 0);
    CHECK(error_of(R"({"type": "reference", "url": "http://b/)" + std::string(2300, 'a') + "\"}") ==
          at + ".url: longer than 2200 characters");
    CHECK(error_of(R"({"timeout_s": 0})").rfind(at + ".timeout_s: expected a positive integer", 0) == 0);
    CHECK(error_of(R"({"timeout_s": 300})") ==
          at + ".timeout_s: must be at most 299 (under the Windows client's 5-minute response timeout)");
    CHECK(error_of(R"({"timeout_s": "10"})").rfind(at + ".timeout_s: expected", 0) == 0);
    CHECK(error_of(R"({"delivery": "later"})").rfind(at + ".delivery: expected \"sync\" or \"async\"", 0) == 0);
    CHECK(error_of(R"({"type": "value", "url": "http://b/", "delivery": "async"})") ==
          at + ".delivery: \"async\" cannot carry an upload-reply: type \"value\" needs \"sync\"");
    CHECK(error_of(R"({"retry": 5})").rfind(at + ".retry: expected an object", 0) == 0);
    CHECK(error_of(R"({"retry": {"initial": 1}})") == at + ".retry: unknown key \"initial\"");
    CHECK(error_of(R"({"retry": {"initial_s": 0}})").rfind(at + ".retry.initial_s: expected a positive integer", 0) == 0);
    CHECK(error_of(R"({"retry": {"max_s": -1}})").rfind(at + ".retry.max_s: expected", 0) == 0);
    CHECK(error_of(R"({"retry": {"give_up_after_s": 0}})").rfind(at + ".retry.give_up_after_s: expected", 0) == 0);
    CHECK(error_of(R"({"retry": {"initial_s": 10, "max_s": 5}})") == at + ".retry.max_s: must be at least initial_s (10)");
    CHECK(error_of(R"({"signing_secret_file": ""})") == at + ".signing_secret_file: must not be empty");
    CHECK(error_of(R"({"signing_secret_file": 3})").rfind(at + ".signing_secret_file: expected a path string", 0) == 0);
    CHECK(error_of(R"({"type": "none", "type": "value"})").find("type") != std::string::npos);  // duplicate key
}
