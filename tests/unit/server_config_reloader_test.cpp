// config_reloader: every way a reload is refused leaves the running configuration in force;
// a good one is applied, except the keys that need a restart.

#include "server/config_reloader.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace bitsd;
using bitsd::test::temp_dir;
namespace fs = std::filesystem;

struct fixture {
    temp_dir dir;
    std::unique_ptr<storage::session_store> store = storage::make_memory_store();
    storage::session_locks locks;
    config::settings running;
    std::unique_ptr<server::live_service> live;

    fixture() {
        running.data_dir = dir / "data";
        running.max_fragment_size = 1000;
        running.listen = {{"127.0.0.1", 8080}};
        config::apply_defaults(running);
        live = std::make_unique<server::live_service>(std::make_shared<server::upload_service>(
            std::make_shared<const config::settings>(running), *store, locks));
    }

    bool reload(server::config_reloader::loader load) {
        server::config_reloader reloader(std::move(load), *live, *store, locks);
        return reloader.reload();
    }
};

}  // namespace

TEST_CASE("reload: an unreadable or invalid file is refused", "[server][reload]") {
    fixture f;
    const auto before = f.live->current();
    CHECK_FALSE(f.reload([](std::string& error) -> std::optional<config::settings> {
        error = "bitsd.json: max_fragment_size: expected a positive integer, got 0";
        return std::nullopt;
    }));
    CHECK_FALSE(f.reload(nullptr));  // no loader at all
    CHECK(f.live->current() == before);
}

TEST_CASE("reload: a destination overlapping data_dir is refused", "[server][reload]") {
    fixture f;
    const auto before = f.live->current();
    auto candidate = f.running;
    candidate.max_fragment_size = 5;
    candidate.uploads[0].destination_dir = f.running.data_dir / "sessions" / "x";
    CHECK_FALSE(f.reload([&](std::string&) { return std::optional<config::settings>(candidate); }));
    CHECK(f.live->current() == before);
    CHECK(f.live->current()->settings().max_fragment_size == 1000);
}

TEST_CASE("reload: a good file applies, restart-only keys keep their running value", "[server][reload]") {
    fixture f;
    auto candidate = f.running;
    candidate.max_fragment_size = 5;
    candidate.uploads.push_back({"/new/", f.dir / "new"});
    candidate.listen = {{"127.0.0.1", 9999}};
    std::shared_ptr<const config::settings> observed;
    server::config_reloader reloader(
        [&](std::string&) { return std::optional<config::settings>(candidate); }, *f.live, *f.store, f.locks);
    reloader.on_applied([&](const std::shared_ptr<const config::settings>& s) { observed = s; });
    CHECK(reloader.reload());
    const auto now = f.live->current();
    CHECK(now->settings().max_fragment_size == 5);
    CHECK(now->url_prefixes().size() == 2);
    CHECK(fs::is_directory(f.dir / "new"));  // created as at start-up
    REQUIRE(now->settings().listen.size() == 1);
    CHECK(now->settings().listen[0].port == 8080);
    REQUIRE(observed);
    CHECK(observed->max_fragment_size == 5);
}
