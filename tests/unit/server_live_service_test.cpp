// live_service: a request keeps the configuration it started with; the next one sees the
// configuration a reload put in place, on every thread.

#include "server/live_service.hpp"

#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include <catch2/catch.hpp>

#include <thread>

namespace {

using namespace bitsd;

std::shared_ptr<server::upload_service> service_with(std::uint64_t max_fragment_size,
                                                     storage::session_store& store,
                                                     storage::session_locks& locks) {
    auto s = std::make_shared<config::settings>();
    s->max_fragment_size = max_fragment_size;
    config::apply_defaults(*s);
    return std::make_shared<server::upload_service>(s, store, locks);
}

}  // namespace

TEST_CASE("live_service: a replace reaches new requests, not those in flight", "[server][reload]") {
    auto store = storage::make_memory_store();
    storage::session_locks locks;
    server::live_service live(service_with(100, *store, locks));
    const auto in_flight = live.current();
    CHECK(in_flight->settings().max_fragment_size == 100);
    CHECK(live.current() == in_flight);  // cached: the same generation

    live.replace(service_with(200, *store, locks));
    CHECK(in_flight->settings().max_fragment_size == 100);  // still alive and unchanged
    CHECK(live.current()->settings().max_fragment_size == 200);

    std::uint64_t seen_on_other_thread = 0;
    std::thread([&] { seen_on_other_thread = live.current()->settings().max_fragment_size; }).join();
    CHECK(seen_on_other_thread == 200);

    // Two instances never share a thread's cache.
    server::live_service other(service_with(300, *store, locks));
    CHECK(other.current()->settings().max_fragment_size == 300);
    CHECK(live.current()->settings().max_fragment_size == 200);
}
