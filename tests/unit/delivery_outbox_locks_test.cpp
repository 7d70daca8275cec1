// The outbox and the sessions' locks: a session that a request holds costs the outbox no slot,
// so the other deliveries go on; its own delivery follows once the lock is free. A real
// back-end process (backend_server.py), a filesystem store, the outbox with one slot.

#include "server/blocking_pool.hpp"
#include "server/delivery_coordinator.hpp"
#include "server/delivery_outbox.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include "backend_process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace bitsd;
using storage::delivery_state;

namespace {

const std::string held_id = "{0123ABCD-0000-0000-0000-0000000000D1}";
const std::string free_id = "{0123ABCD-0000-0000-0000-0000000000D2}";

// A complete, finalised upload of the prefix: what a final fragment leaves for the outbox.
void finalised_session(storage::session_store& store, const std::string& id) {
    storage::session_metadata m;
    m.id = id;
    m.url_prefix = "/uploads/";
    m.target = "/uploads/f.bin";
    REQUIRE_FALSE(store.create(m));
    std::error_code ec;
    auto appender = store.open_append(id, 0, ec);
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(appender->write("0123456789", 10));
    REQUIRE_FALSE(appender->finish());
    storage::session_info info;
    REQUIRE_FALSE(store.info(id, info));
    auto& d = info.metadata.delivery;
    d.state = delivery_state::finalised;
    d.sha256_base64 = "hK9lQyY8gZzhTz1zXvBx0Yz1LQjPz8r5uEJ0Nw8Pw9A=";
    d.idempotency_key = "0123456789abcdef0123456789abcdef";
    d.finalised_unix = d.next_attempt_unix = static_cast<std::int64_t>(std::time(nullptr));
    d.upload_scheme = "http";
    d.upload_host = "bits.example";
    d.upload_target = "/uploads/f.bin";
    info.metadata.total = 10;
    REQUIRE_FALSE(store.update(info.metadata));
}

delivery_state state_of(storage::session_store& store, const std::string& id) {
    storage::session_info info;
    REQUIRE_FALSE(store.info(id, info));
    return info.metadata.delivery.state;
}

bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

// One async prefix notifying `backend`, its store, the locks and an outbox with one slot.
struct outbox_fixture {
    config::settings settings;
    std::vector<std::optional<delivery::delivery_settings>> per_prefix;
    std::unique_ptr<storage::session_store> store;
    storage::session_locks locks;
    server::blocking_pool blocking{2};
    std::unique_ptr<server::delivery_outbox> outbox;

    outbox_fixture(const test::temp_dir& dir, const test::backend_process& backend) {
        settings.data_dir = dir / "data";
        config::upload_prefix upload;
        upload.url_prefix = "/uploads/";
        upload.destination_dir = dir / "files";
        upload.notification.type = config::notification_type::reference;
        upload.notification.url = "http://127.0.0.1:" + std::to_string(backend.port()) + "/ingest";
        upload.notification.delivery = config::delivery_mode::async;
        settings.uploads.push_back(upload);
        REQUIRE_FALSE(server::load_delivery_settings(settings, per_prefix));
        std::error_code ec;
        store = storage::make_filesystem_store(settings.data_dir, storage::fsync_policy::none, ec);
        REQUIRE_FALSE(ec);
        server::outbox_options options;
        options.max_in_flight = 1;  // one slot: a slot spent waiting would stop everything
        options.lock_busy_retry = std::chrono::milliseconds(50);
        options.retry_requests_dir = dir / "retries";
        outbox = server::make_delivery_outbox(settings, per_prefix, *store, locks, blocking, options);
    }
    ~outbox_fixture() {
        outbox->stop();
        blocking.stop_and_join();
    }
};

}  // namespace

TEST_CASE("outbox: a session a request holds takes no slot; its delivery follows the lock", "[server][delivery]") {
    test::temp_dir dir;
    test::backend_process backend(dir);
    outbox_fixture f(dir, backend);
    auto& store_ref = *f.store;
    finalised_session(store_ref, held_id);
    finalised_session(store_ref, free_id);

    REQUIRE(f.locks.try_lock(held_id));  // a request of this session is running
    f.outbox->start();
    f.outbox->schedule(held_id);
    f.outbox->schedule(free_id);
    CHECK(wait_for([&] { return state_of(store_ref, free_id) == delivery_state::delivered; }, std::chrono::seconds(10)));
    CHECK(state_of(store_ref, held_id) == delivery_state::finalised);  // not attempted while held
    f.locks.unlock(held_id);
    CHECK(wait_for([&] { return state_of(store_ref, held_id) == delivery_state::delivered; }, std::chrono::seconds(10)));
    CHECK(backend.requests().size() == 2);
}

TEST_CASE("outbox: an outcome whose session a request holds waits without a slot", "[server][delivery]") {
    test::temp_dir dir;
    test::backend_process backend(dir);
    backend.control({{"queue", {{{"stall_s", 1}}}}, {"default", {{"status", 200}}}});
    outbox_fixture f(dir, backend);
    auto& store_ref = *f.store;
    finalised_session(store_ref, held_id);
    f.outbox->start();
    f.outbox->schedule(held_id);
    // The back-end stalls its answer; a request of the session comes meanwhile and holds it.
    REQUIRE(wait_for([&] { return !backend.requests().empty(); }, std::chrono::seconds(10)));
    REQUIRE(f.locks.try_lock(held_id));
    finalised_session(store_ref, free_id);
    f.outbox->schedule(free_id);
    CHECK(wait_for([&] { return state_of(store_ref, free_id) == delivery_state::delivered; }, std::chrono::seconds(10)));
    CHECK(state_of(store_ref, held_id) == delivery_state::delivering);  // its outcome waits for the lock
    f.locks.unlock(held_id);
    CHECK(wait_for([&] { return state_of(store_ref, held_id) == delivery_state::delivered; }, std::chrono::seconds(10)));
}
