// The request path's delivery rules (issue 7) without a network: the digest kept or rebuilt,
// finalising (key, digest, location), sync and async completion, repeated final fragments,
// Close-Session and Cancel-Session of a session with a delivery.

#include "delivery/content_digest.hpp"
#include "server/delivery_coordinator.hpp"
#include "server/upload_service.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <openssl/sha.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace bitsd;
using storage::delivery_state;

namespace {

const std::string id = "{0123ABCD-0000-0000-0000-0000000000C1}";

class recording_scheduler : public server::delivery_scheduler {
public:
    void schedule(const std::string& session_id) override { scheduled.push_back(session_id); }
    std::vector<std::string> scheduled;
};

std::string sha256_base64(const std::string& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    return delivery::base64_encode(digest, sizeof digest);
}

struct fixture {
    test::temp_dir dir;
    std::shared_ptr<config::settings> settings = std::make_shared<config::settings>();
    std::unique_ptr<storage::session_store> store;
    storage::session_locks locks;
    std::unique_ptr<server::upload_service> service;
    recording_scheduler scheduler;
    std::unique_ptr<server::delivery_coordinator> coordinator;
    protocol::packet fragment;
    server::request_origin origin{"http", "bits.example", "/uploads/f.bin?x=1", "10.0.0.1:8080"};

    explicit fixture(config::delivery_mode mode) {
        config::upload_prefix upload;
        upload.url_prefix = "/uploads/";
        upload.destination_dir = dir / "files";
        upload.notification.type = config::notification_type::reference;
        upload.notification.url = "http://127.0.0.1:9/ingest";
        upload.notification.delivery = mode;
        settings->uploads.push_back(upload);
        std::error_code ec;
        store = storage::make_filesystem_store(dir / "data", storage::fsync_policy::none, ec);
        REQUIRE_FALSE(ec);
        service = std::make_unique<server::upload_service>(settings, *store, locks);
        std::vector<std::optional<delivery::delivery_settings>> per_prefix;
        REQUIRE_FALSE(server::load_delivery_settings(*settings, per_prefix));
        coordinator = std::make_unique<server::delivery_coordinator>(settings, *store, locks, per_prefix, scheduler);
        storage::session_metadata m;
        m.id = id;
        m.url_prefix = "/uploads/";
        m.target = "/uploads/f.bin";
        m.destination = (dir / "files" / "f.bin").string();
        REQUIRE_FALSE(store->create(m));
        fragment.kind = protocol::packet_kind::fragment;
        fragment.session_id = id;
        fragment.sent_session_id = id;
        fragment.session_id_valid = true;
    }

    void append(const std::string& data, std::uint64_t total) {
        storage::session_info info;
        REQUIRE_FALSE(store->info(id, info));
        info.metadata.total = total;
        REQUIRE_FALSE(store->update(info.metadata));
        std::error_code ec;
        auto appender = store->open_append(id, info.received, ec);
        REQUIRE_FALSE(ec);
        REQUIRE_FALSE(appender->write(data.data(), data.size()));
        REQUIRE_FALSE(appender->finish());
    }

    storage::delivery_record record() {
        storage::session_info info;
        REQUIRE_FALSE(store->info(id, info));
        return info.metadata.delivery;
    }

    void set_record(const storage::delivery_record& d) {
        storage::session_info info;
        REQUIRE_FALSE(store->info(id, info));
        info.metadata.delivery = d;
        REQUIRE_FALSE(store->update(info.metadata));
    }

    server::fragment_result complete() {
        return coordinator->on_complete(fragment, "/uploads/", origin, service->engine().fragment_ack(fragment, 10));
    }
};

}  // namespace

TEST_CASE("coordinator: the digest is kept while it matches and rebuilt from the file when not", "[server][delivery]") {
    fixture f(config::delivery_mode::sync);
    f.append("hello", 10);
    std::error_code ec;
    auto digest = f.coordinator->digest_for(id, 5, ec);  // nothing in memory: rebuilt
    REQUIRE(digest);
    CHECK(digest->bytes() == 5);
    CHECK(digest->base64() == sha256_base64("hello"));
    digest->update("world", 5);
    f.coordinator->keep_digest(id, digest, 10);
    CHECK(f.coordinator->digest_for(id, 10, ec).get() == digest.get());  // kept, same object
    f.coordinator->keep_digest(id, digest, 7);  // does not cover the received bytes: dropped
    CHECK(f.coordinator->digest_for(id, 0, ec)->bytes() == 0);
    f.coordinator->keep_digest(id, digest, 10);
    f.coordinator->forget(id);  // cancelled or expired: not kept in memory
    CHECK(f.coordinator->digest_for(id, 10, ec).get() != digest.get());
}

TEST_CASE("coordinator: sync completion finalises once and counts every attempt", "[server][delivery]") {
    fixture f(config::delivery_mode::sync);
    f.append("helloworld", 10);
    auto result = f.complete();
    REQUIRE(result.delivery);
    auto d = f.record();
    CHECK(d.state == delivery_state::delivering);
    CHECK(d.attempts == 1);
    CHECK(d.sha256_base64 == sha256_base64("helloworld"));
    CHECK(d.idempotency_key.size() == 32);
    CHECK(d.upload_host == "10.0.0.1:8080");  // the listener's address, never the client's Host
    CHECK(d.upload_target == "/uploads/f.bin?x=1");
    CHECK(result.delivery->input.record.idempotency_key == d.idempotency_key);
    CHECK(result.delivery->input.size == 10);
    CHECK(result.delivery->input.data_file.find("data") != std::string::npos);
    const auto key = d.idempotency_key;

    // After a transient failure the retried final fragment notifies again with the same key.
    d.state = delivery_state::finalised;
    d.failed_status = 503;
    f.set_record(d);
    result = f.complete();
    REQUIRE(result.delivery);
    CHECK(f.record().attempts == 2);
    CHECK(f.record().idempotency_key == key);

    // After success: the stored Ack, no attempt.
    d = f.record();
    d.state = delivery_state::delivered;
    d.reply_url = "http://bits.example/uploads/BITS-Sessions/Replies/x/responsefile.bin";
    f.set_record(d);
    result = f.complete();
    CHECK_FALSE(result.delivery);
    CHECK(result.response.status == 200);
    bool has_reply_url = false;
    for (const auto& [name, value] : result.response.headers) has_reply_url |= name == "BITS-Reply-URL" && value == d.reply_url;
    CHECK(has_reply_url);

    // After a fatal answer: the stored failure, no attempt.
    d.state = delivery_state::dead_lettered;
    d.failed_status = 404;
    d.failed_hresult = 0x80190194;
    f.set_record(d);
    result = f.complete();
    CHECK_FALSE(result.delivery);
    CHECK(result.response.status == 404);
    CHECK(f.record().attempts == 2);
}

TEST_CASE("coordinator: async completion finalises and hands over, the Ack goes at once", "[server][delivery]") {
    fixture f(config::delivery_mode::async);
    f.append("helloworld", 10);
    auto result = f.complete();
    CHECK_FALSE(result.delivery);
    CHECK(result.response.status == 200);
    CHECK(f.record().state == delivery_state::finalised);
    CHECK(f.scheduler.scheduled == std::vector<std::string>{id});
    const auto key = f.record().idempotency_key;
    f.complete();  // repeated: the same key, scheduled again (schedule is idempotent)
    CHECK(f.record().idempotency_key == key);
    CHECK(f.scheduler.scheduled.size() == 2);
    CHECK(f.coordinator->keeps_bytes_on_cancel(storage::session_metadata{id, "", "", "", {}, {}, 0, f.record()}));
}

TEST_CASE("coordinator: Close-Session after a delivery copies only on request", "[server][delivery]") {
    protocol::packet close;
    close.kind = protocol::packet_kind::close_session;
    close.session_id = id;
    close.sent_session_id = id;
    SECTION("delivered with copy: commit; without: release to a closed tombstone") {
        fixture f(config::delivery_mode::sync);
        f.append("helloworld", 10);
        storage::session_info info;
        REQUIRE_FALSE(f.store->info(id, info));
        info.metadata.delivery.state = delivery_state::delivered;
        info.metadata.delivery.copy_to_destination = true;
        CHECK(f.coordinator->on_close(close, "/uploads/", info.metadata).action == server::close_decision::kind::commit);
        info.metadata.delivery.copy_to_destination = false;
        CHECK(f.coordinator->on_close(close, "/uploads/", info.metadata).action == server::close_decision::kind::release);
        REQUIRE_FALSE(f.coordinator->release(id));
        REQUIRE_FALSE(f.store->info(id, info));
        CHECK(info.metadata.state == storage::session_state::closed);
        CHECK(info.received == 0);
    }
    SECTION("sync, not delivered: the stored failure or busy, nothing changes") {
        fixture f(config::delivery_mode::sync);
        storage::session_metadata m;
        m.delivery.state = delivery_state::finalised;
        auto decision = f.coordinator->on_close(close, "/uploads/", m);
        CHECK(decision.action == server::close_decision::kind::answer);
        CHECK(decision.response.status == 503);
        m.delivery.failed_status = 502;
        m.delivery.failed_hresult = 0x801901F6;
        CHECK(f.coordinator->on_close(close, "/uploads/", m).response.status == 502);
    }
    SECTION("async, owed: 200, remembered, the bytes stay") {
        fixture f(config::delivery_mode::async);
        f.append("helloworld", 10);
        f.complete();
        storage::session_info info;
        REQUIRE_FALSE(f.store->info(id, info));
        auto decision = f.coordinator->on_close(close, "/uploads/", info.metadata);
        CHECK(decision.action == server::close_decision::kind::answer);
        CHECK(decision.response.status == 200);
        REQUIRE_FALSE(f.store->info(id, info));
        CHECK(info.metadata.delivery.close_requested);
        CHECK(info.received == 10);
    }
}

// The release after a delivery (Close-Session without a copy) is two steps on disk; a crash
// between them leaves one of these states, prepared here by hand. Whatever the byte count, the
// client's Close-Session of a delivered upload is answered 200 and leaves a closed session
// without bytes.
TEST_CASE("coordinator: Close-Session of a delivered upload whose release a crash cut short", "[server][delivery]") {
    protocol::packet close;
    close.kind = protocol::packet_kind::close_session;
    close.session_id = id;
    close.sent_session_id = id;
    close.session_id_valid = true;
    protocol::upload_location where;
    where.path = "/uploads/f.bin";
    where.segments = {"f.bin"};
    fixture f(config::delivery_mode::sync);
    f.service->attach_delivery(f.coordinator.get(), nullptr);
    f.append("helloworld", 10);
    storage::session_info info;
    REQUIRE_FALSE(f.store->info(id, info));
    info.metadata.delivery.state = delivery_state::delivered;
    storage::session_files files;
    REQUIRE_FALSE(f.store->local_files(id, files));
    SECTION("the bytes unlinked, the session still receiving") {
        REQUIRE_FALSE(f.store->update(info.metadata));
        std::filesystem::remove(files.data);
    }
    SECTION("closed recorded, the bytes still there") {
        info.metadata.state = storage::session_state::closed;
        REQUIRE_FALSE(f.store->update(info.metadata));
    }
    const auto answer = f.service->close_session(close, where);
    CHECK(answer.status == 200);
    REQUIRE_FALSE(f.store->info(id, info));
    CHECK(info.metadata.state == storage::session_state::closed);
    CHECK(info.metadata.delivery.state == delivery_state::delivered);
    CHECK(info.received == 0);
    CHECK_FALSE(std::filesystem::exists(files.data));
    CHECK(f.service->close_session(close, where).status == 200);  // and again
}

TEST_CASE("coordinator: a bad signing secret file stops start-up naming the key", "[server][delivery]") {
    test::temp_dir dir;
    config::settings settings;
    config::upload_prefix upload;
    upload.notification.type = config::notification_type::value;
    upload.notification.url = "http://b/";
    upload.notification.signing_secret_file = dir / "missing.key";
    settings.uploads.push_back(upload);
    std::vector<std::optional<delivery::delivery_settings>> out;
    const auto error = server::load_delivery_settings(settings, out);
    REQUIRE(error);
    CHECK(error->rfind("uploads[0].notification.signing_secret_file: ", 0) == 0);
}

// SIGHUP (issue 8 item 3): the coordinator follows a reload. Each call works on the snapshot it
// took; a delivery already prepared keeps the settings it started with.
namespace {

std::vector<std::optional<delivery::delivery_settings>> per_prefix_of(const config::settings& s) {
    std::vector<std::optional<delivery::delivery_settings>> out;
    REQUIRE_FALSE(server::load_delivery_settings(s, out));
    return out;
}

std::shared_ptr<const config::settings> with_notification(const config::settings& base, config::notification_type type,
                                                          const std::string& url, config::delivery_mode mode) {
    auto next = std::make_shared<config::settings>(base);
    next->uploads[0].notification.type = type;
    next->uploads[0].notification.url = url;
    next->uploads[0].notification.delivery = mode;
    return next;
}

}  // namespace

TEST_CASE("coordinator: apply() changes the notification URL for the next delivery only", "[server][delivery][reload]") {
    fixture f(config::delivery_mode::sync);
    f.append("helloworld", 10);
    auto first = f.complete();
    REQUIRE(first.delivery);
    CHECK(first.delivery->input.settings.url == "http://127.0.0.1:9/ingest");

    const auto next = with_notification(*f.settings, config::notification_type::reference,
                                        "http://127.0.0.1:10/other", config::delivery_mode::sync);
    f.coordinator->apply(next, per_prefix_of(*next));
    CHECK(first.delivery->input.settings.url == "http://127.0.0.1:9/ingest");  // in flight: unchanged
    auto d = f.record();
    d.state = delivery_state::finalised;
    d.failed_status = 503;
    f.set_record(d);
    auto second = f.complete();
    REQUIRE(second.delivery);
    CHECK(second.delivery->input.settings.url == "http://127.0.0.1:10/other");
    CHECK(second.delivery->input.record.idempotency_key == first.delivery->input.record.idempotency_key);
}

TEST_CASE("coordinator: apply() turns a notification on, off, and sync into async", "[server][delivery][reload]") {
    fixture f(config::delivery_mode::sync);
    const auto none = with_notification(*f.settings, config::notification_type::none, "", config::delivery_mode::sync);
    f.coordinator->apply(none, per_prefix_of(*none));
    CHECK_FALSE(f.coordinator->enabled("/uploads/"));
    CHECK_FALSE(f.coordinator->any_enabled());

    SECTION("off: a completion that raced the reload gets the plain Ack, not an error") {
        f.append("helloworld", 10);
        auto result = f.complete();
        CHECK_FALSE(result.delivery);
        CHECK(result.response.status == 200);
        CHECK(f.record().state == delivery_state::none);
    }
    SECTION("on again, async: finalised and handed to the outbox") {
        const auto async = with_notification(*f.settings, config::notification_type::reference,
                                             "http://127.0.0.1:9/ingest", config::delivery_mode::async);
        f.coordinator->apply(async, per_prefix_of(*async));
        CHECK(f.coordinator->enabled("/uploads/"));
        CHECK(f.coordinator->any_enabled());
        f.append("helloworld", 10);
        auto result = f.complete();
        CHECK_FALSE(result.delivery);
        CHECK(result.response.status == 200);
        CHECK(f.record().state == delivery_state::finalised);
        CHECK(f.scheduler.scheduled == std::vector<std::string>{id});
    }
}
