// The sweep and deliveries (issue 7): a session whose delivery is still owed (finalised or
// delivering) is never expired; delivered and dead-lettered ones expire like any other.

#include "config/config.hpp"
#include "server/upload_service.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <string>

using namespace bitsd;

TEST_CASE("sweep: an owed delivery outlives the session timeout", "[server][delivery]") {
    test::temp_dir dir;
    auto settings = std::make_shared<config::settings>();
    config::upload_prefix upload;
    upload.url_prefix = "/uploads/";
    upload.destination_dir = dir / "files";
    upload.session_timeout_s = 60;
    settings->uploads.push_back(upload);
    auto store = storage::make_memory_store();
    storage::session_locks locks;
    server::upload_service service(settings, *store, locks);

    const char* ids[] = {"{00000000-0000-0000-0000-000000000001}", "{00000000-0000-0000-0000-000000000002}",
                         "{00000000-0000-0000-0000-000000000003}", "{00000000-0000-0000-0000-000000000004}",
                         "{00000000-0000-0000-0000-000000000005}"};
    const storage::delivery_state states[] = {storage::delivery_state::none, storage::delivery_state::finalised,
                                              storage::delivery_state::delivering, storage::delivery_state::delivered,
                                              storage::delivery_state::dead_lettered};
    for (int i = 0; i < 5; ++i) {
        storage::session_metadata m;
        m.id = ids[i];
        m.url_prefix = "/uploads/";
        m.target = "/uploads/f" + std::to_string(i);
        m.destination = (dir / "files" / ("f" + std::to_string(i))).string();
        m.total = 0;
        REQUIRE_FALSE(store->create(m));
        m.delivery.state = states[i];
        REQUIRE_FALSE(store->update(m));
    }
    const auto later = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
    CHECK(service.sweep(later) == 3);
    storage::session_info info;
    CHECK(store->info(ids[0], info));  // removed
    CHECK_FALSE(store->info(ids[1], info));
    CHECK(info.metadata.delivery.state == storage::delivery_state::finalised);
    CHECK_FALSE(store->info(ids[2], info));
    CHECK(info.metadata.delivery.state == storage::delivery_state::delivering);
    CHECK(store->info(ids[3], info));
    CHECK(store->info(ids[4], info));
}
