// plan_reload: what a SIGHUP applies, and what waits for a restart.

#include "config/reload_plan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace cfg = bitsd::config;

namespace {

bool has(const std::vector<std::string>& keys, const std::string& key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

cfg::settings base() {
    cfg::settings s;
    REQUIRE_FALSE(cfg::parse_json(R"({"listen": ["127.0.0.1:8080"], "data_dir": "d",
        "uploads": [{"url_prefix": "/u/", "destination_dir": "f"}]})", s));
    return s;
}

}  // namespace

TEST_CASE("reload: the same configuration changes nothing", "[config][reload]") {
    const auto plan = cfg::plan_reload(base(), base());
    CHECK(plan.changed.empty());
    CHECK(plan.needs_restart.empty());
}

TEST_CASE("reload: limits, prefixes and the log level apply at once", "[config][reload]") {
    auto candidate = base();
    candidate.max_fragment_size = 1024;
    candidate.uploads.push_back({"/v/", "g"});
    candidate.uploads[0].max_upload_size = 5;
    candidate.level = cfg::log_level::debug;
    candidate.read_timeout_s = 7;
    candidate.idle_timeout_s = 8;
    candidate.min_body_rate_bytes_per_s = 9;
    candidate.busy_timeout_s = 10;
    candidate.cleanup_interval_s = 11;
    candidate.shutdown_timeout_s = 12;
    candidate.host_id = "h";
    candidate.host_id_fallback_timeout_s = 3;
    candidate.public_base_url = "https://bits.example.org";
    const auto plan = cfg::plan_reload(base(), candidate);
    CHECK(plan.needs_restart.empty());
    for (const char* key : {"uploads", "max_fragment_size", "log_level", "read_timeout_s",
                            "idle_timeout_s", "min_body_rate_bytes_per_s", "busy_timeout_s",
                            "cleanup_interval_s", "shutdown_timeout_s", "host_id",
                            "host_id_fallback_timeout_s", "public_base_url"}) {
        INFO(key);
        CHECK(has(plan.changed, key));
    }
    CHECK(plan.next.max_fragment_size == 1024);
    REQUIRE(plan.next.uploads.size() == 2);
    CHECK(plan.next.uploads[0].max_upload_size == 5);
    CHECK(plan.next.level == cfg::log_level::debug);
}

TEST_CASE("reload: listen, data_dir, fsync and threads need a restart and keep their value",
          "[config][reload]") {
    const auto running = base();
    auto candidate = base();
    candidate.listen = {{"127.0.0.1", 9090}};
    candidate.data_dir = "elsewhere";
    candidate.fsync = cfg::fsync_mode::none;
    candidate.threads = 3;
    candidate.blocking_threads = 5;
    candidate.admin_allowed_hosts = {"admin.example"};
    candidate.max_fragment_size = 77;
    const auto plan = cfg::plan_reload(running, candidate);
    for (const char* key : {"listen", "data_dir", "fsync", "threads", "blocking_threads", "admin_allowed_hosts"}) {
        INFO(key);
        CHECK(has(plan.needs_restart, key));
        CHECK_FALSE(has(plan.changed, key));
    }
    REQUIRE(plan.next.listen.size() == 1);
    CHECK(plan.next.listen[0].port == 8080);
    CHECK(plan.next.data_dir == running.data_dir);
    CHECK(plan.next.fsync == running.fsync);
    CHECK(plan.next.threads == running.threads);
    CHECK(plan.next.blocking_threads == running.blocking_threads);
    CHECK(plan.next.admin_allowed_hosts.empty());
    CHECK(plan.next.max_fragment_size == 77);  // the rest applies
}

TEST_CASE("reload: a changed field inside one upload prefix counts as a change", "[config][reload]") {
    for (int field = 0; field < 6; ++field) {
        auto candidate = base();
        auto& u = candidate.uploads[0];
        switch (field) {
        case 0: u.url_prefix = "/w/"; break;
        case 1: u.destination_dir = "other"; break;
        case 2: u.allow_overwrites = true; break;
        case 3: u.allow_nested_destination = true; break;
        case 4: u.max_upload_size = 1; break;
        case 5: u.session_timeout_s = 1; break;
        }
        INFO(field);
        CHECK(has(cfg::plan_reload(base(), candidate).changed, "uploads"));
    }
}

TEST_CASE("reload: a prefix's notification (delivery settings) applies at once", "[config][reload]") {
    const auto running = base();
    const auto changed = [&](auto edit) {
        auto candidate = running;
        edit(candidate.uploads[0].notification);
        return has(cfg::plan_reload(running, candidate).changed, "uploads");
    };
    CHECK(changed([](cfg::notification_settings& n) { n.type = cfg::notification_type::reference; }));
    CHECK(changed([](cfg::notification_settings& n) { n.url = "http://b/other"; }));
    CHECK(changed([](cfg::notification_settings& n) { n.timeout_s = 7; }));
    CHECK(changed([](cfg::notification_settings& n) { n.delivery = cfg::delivery_mode::async; }));
    CHECK(changed([](cfg::notification_settings& n) { n.retry.max_s = 9; }));
    CHECK(changed([](cfg::notification_settings& n) { n.signing_secret_file = "k"; }));
}
