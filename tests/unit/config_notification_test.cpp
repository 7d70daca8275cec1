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

std::string error_of_document(const std::string& document) {
    cfg::settings s;
    const auto error = cfg::parse_json(document, s);
    return error ? error->message : std::string();
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

TEST_CASE("notification: a relative URL resolves only against public_base_url", "[config][delivery]") {
    // Without a public base it would resolve against each client's Host header.
    const auto refused = error_of(R"({"type": "reference", "url": "notify.asp"})");
    CHECK(refused.rfind("uploads[0].notification.url: the relative URL \"notify.asp\" needs public_base_url", 0) == 0);
    CHECK(error_of(R"({"type": "value", "url": "/ingest"})").rfind("uploads[0].notification.url: ", 0) == 0);
    CHECK(error_of(R"({"type": "value", "url": "//backend/ingest"})").rfind("uploads[0].notification.url: ", 0) == 0);
    // A prefix that does not notify may keep a relative URL it does not use.
    CHECK(error_of(R"({"type": "none", "url": "notify.asp"})").empty());
    const std::string with_base = R"({"public_base_url": "https://bits.example.org", "uploads": [{"url_prefix": "/u/",
        "destination_dir": "/tmp/x", "notification": {"type": "reference", "url": "notify.asp"}}]})";
    CHECK(error_of_document(with_base).empty());
    CHECK(error_of_document(R"({"public_base_url": "http://[::1]:8080/"})").empty());
}

TEST_CASE("public_base_url: every bad value is refused naming the key", "[config][delivery]") {
    for (const char* bad : {R"(5)", R"("")", R"("bits.example.org")", R"("ftp://bits.example.org")",
                            R"("https://")", R"("https://user@bits.example.org")", R"("https://bits.example.org/bits")",
                            R"("https://bits.example.org?x=1")", R"("https://bits.example.org#f")",
                            R"("https://bits.example.org:0")", R"("https://bits.example.org:99999")",
                            R"("https://bits example.org")"}) {
        CAPTURE(bad);
        CHECK(error_of_document(std::string(R"({"public_base_url": )") + bad + "}").rfind("public_base_url: ", 0) == 0);
    }
}
