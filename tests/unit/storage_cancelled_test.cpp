// Cancelled sessions cost no directory (issue 9, item 4): the filesystem store frees a cancelled
// session's bytes and its directory, and remembers it as one line of an append-only journal
// (<root>/cancelled-sessions.journal) until the sweep expires it.

#include "storage/cancelled_journal.hpp"
#include "storage/data_dir_layout.hpp"
#include "storage/filesystem_store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

namespace {

using namespace bitsd::storage;
using namespace bitsd::storage::test;

std::unique_ptr<filesystem_store> open_store(const fs::path& root) {
    std::error_code ec;
    auto store = filesystem_store::open(root, fsync_policy::durable, ec);
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    REQUIRE(store);
    return store;
}

// Everything below <root>/sessions/<shard>/: sessions, staging and removal leftovers alike.
std::vector<fs::path> session_entries(const fs::path& root) {
    std::vector<fs::path> found;
    for (const auto& shard : fs::directory_iterator(root / "sessions")) {
        if (!shard.is_directory()) continue;
        for (const auto& entry : fs::directory_iterator(shard.path())) found.push_back(entry.path());
    }
    return found;
}

session_metadata owned_metadata(unsigned n) {
    session_metadata metadata = make_metadata(session_id(n));
    metadata.target = "/uploads/f" + std::to_string(n) + ".bin";
    metadata.owner = "user" + std::to_string(n % 3);
    return metadata;
}

std::error_code append(session_store& store, const std::string& id, const std::string& bytes) {
    std::error_code ec;
    auto writer = store.open_append(id, 0, ec);
    if (ec) return ec;
    if ((ec = writer->write(bytes.data(), bytes.size()))) return ec;
    return writer->finish();
}

void check_cancelled(session_store& store, unsigned n) {
    const session_metadata expected = owned_metadata(n);
    session_info info;
    REQUIRE_FALSE(store.info(expected.id, info));
    CHECK(info.metadata.state == session_state::cancelled);
    CHECK(info.metadata.id == expected.id);
    CHECK(info.metadata.url_prefix == expected.url_prefix);
    CHECK(info.metadata.target == expected.target);
    CHECK(info.metadata.owner == expected.owner);
    CHECK(info.received == 0);
    CHECK(info.last_activity_unix > 0);
}

}  // namespace

TEST_CASE("filesystem store: cancelled sessions leave no directory behind", "[storage][cancelled]") {
    temp_dir dir;
    const fs::path root = dir / "store";
    constexpr unsigned count = 50;
    {
        auto store = open_store(root);
        for (unsigned n = 1; n <= count; ++n) {
            REQUIRE_FALSE(store->create(owned_metadata(n)));
            REQUIRE_FALSE(append(*store, session_id(n), "some bytes"));
            REQUIRE_FALSE(store->cancel(session_id(n)));
        }
        CHECK(session_entries(root).empty());
        for (unsigned n = 1; n <= count; ++n) check_cancelled(*store, n);
    }

    // Remembered across a restart; every operation answers as for a cancelled session.
    auto store = open_store(root);
    CHECK(session_entries(root).empty());
    std::set<std::string> listed;
    REQUIRE_FALSE(store->list([&](const session_info& info) {
        CHECK(info.metadata.state == session_state::cancelled);
        listed.insert(info.metadata.id);
    }));
    CHECK(listed.size() == count);
    for (unsigned n = 1; n <= count; ++n) check_cancelled(*store, n);

    const std::string id = session_id(7);
    CHECK_FALSE(store->cancel(id));  // again: fine, nothing changes
    check_cancelled(*store, 7);
    std::error_code ec;
    CHECK_FALSE(store->open_append(id, 0, ec));
    CHECK(ec == storage_errc::wrong_state);
    CHECK(store->commit(id, to(dir / "never.bin"), true) == storage_errc::wrong_state);
    CHECK_FALSE(fs::exists(dir / "never.bin"));
    CHECK(store->create(owned_metadata(7)) == storage_errc::session_exists);
    CHECK(session_entries(root).empty());

    // The sweep's remove() forgets it, for good.
    REQUIRE_FALSE(store->remove(id, nullptr));
    session_info info;
    CHECK(store->info(id, info) == storage_errc::session_not_found);
    CHECK(store->remove(id, nullptr) == storage_errc::session_not_found);
    store.reset();
    store = open_store(root);
    CHECK(store->info(id, info) == storage_errc::session_not_found);
    check_cancelled(*store, 8);
}

TEST_CASE("filesystem store: a read-only view sees the cancelled sessions", "[storage][cancelled]") {
    temp_dir dir;
    const fs::path root = dir / "store";
    auto store = open_store(root);
    REQUIRE_FALSE(store->create(owned_metadata(1)));
    REQUIRE_FALSE(store->cancel(session_id(1)));
    std::error_code ec;
    auto reader = filesystem_store::open_for_reading(root, ec);
    REQUIRE_FALSE(ec);
    check_cancelled(*reader, 1);
}

TEST_CASE("filesystem store: a cancelled session can become a closed tombstone again",
          "[storage][cancelled]") {
    // The delivery's release (the back-end has the file, nothing is copied) cancels, then
    // records `closed` so that a repeated Close-Session answers 200.
    temp_dir dir;
    const fs::path root = dir / "store";
    auto store = open_store(root);
    const std::string id = session_id(3);
    REQUIRE_FALSE(store->create(owned_metadata(3)));
    REQUIRE_FALSE(append(*store, id, "delivered elsewhere"));
    REQUIRE_FALSE(store->cancel(id));
    session_info info;
    REQUIRE_FALSE(store->info(id, info));
    info.metadata.state = session_state::closed;
    REQUIRE_FALSE(store->update(info.metadata));
    store.reset();
    store = open_store(root);
    REQUIRE_FALSE(store->info(id, info));
    CHECK(info.metadata.state == session_state::closed);
    CHECK(info.metadata.owner == "user0");
    CHECK(info.received == 0);
}

TEST_CASE("filesystem store: cancel without a journal still frees the bytes", "[storage][cancelled]") {
    // A full disk (here: a directory where the journal goes) must not keep a client from giving
    // the space back: the bytes go first, the session stays a `cancelled` directory tombstone.
    temp_dir dir;
    const fs::path root = dir / "store";
    auto store = open_store(root);
    const std::string id = session_id(4);
    REQUIRE_FALSE(store->create(owned_metadata(4)));
    REQUIRE_FALSE(append(*store, id, "bytes"));
    fs::create_directory(root / "cancelled-sessions.journal");
    CHECK_FALSE(store->cancel(id));
    check_cancelled(*store, 4);
    CHECK(fs::exists(store->session_directory(id)));
    CHECK_FALSE(fs::exists(store->session_directory(id) / "data"));
    REQUIRE_FALSE(store->remove(id, nullptr));
    CHECK(session_entries(root).empty());
}

TEST_CASE("cancelled journal: bounded, torn lines ignored, compacted", "[storage][cancelled]") {
    temp_dir dir;
    const fs::path path = dir / "journal";
    const auto record = [](unsigned n) {
        cancelled_session s;
        s.id = session_id(n);
        s.url_prefix = "/uploads";
        s.target = "/uploads/x";
        s.owner = "someone";
        s.cancelled_unix = 1700000000 + n;
        return s;
    };
    std::error_code ec;

    SECTION("at most `capacity` remembered: the oldest are forgotten first") {
        auto journal = cancelled_journal::open(path, fsync_policy::none, true, ec, 3);
        REQUIRE_FALSE(ec);
        for (unsigned n = 1; n <= 5; ++n) REQUIRE_FALSE(journal->record(record(n)));
        CHECK(journal->size() == 3);
        cancelled_session found;
        CHECK(journal->find(session_id(2), found) == storage_errc::session_not_found);
        REQUIRE_FALSE(journal->find(session_id(3), found));
        CHECK(found.cancelled_unix == 1700000003);
        journal.reset();
        journal = cancelled_journal::open(path, fsync_policy::none, true, ec, 3);
        REQUIRE_FALSE(ec);
        CHECK(journal->size() == 3);
        CHECK(journal->find(session_id(2), found) == storage_errc::session_not_found);
        REQUIRE_FALSE(journal->find(session_id(5), found));
        CHECK(found.owner == "someone");
    }

    SECTION("a line torn by a crash is dropped, the rest kept") {
        auto journal = cancelled_journal::open(path, fsync_policy::none, true, ec);
        REQUIRE_FALSE(ec);
        REQUIRE_FALSE(journal->record(record(1)));
        journal.reset();
        {
            std::ofstream out(path, std::ios::binary | std::ios::app);
            out << R"({"cancelled":"{0123ABCD-0000-4000-8000-0000)";
        }
        journal = cancelled_journal::open(path, fsync_policy::none, true, ec);
        REQUIRE_FALSE(ec);
        CHECK(journal->size() == 1);
        REQUIRE_FALSE(journal->record(record(2)));
        journal.reset();
        journal = cancelled_journal::open(path, fsync_policy::none, true, ec);
        REQUIRE_FALSE(ec);
        CHECK(journal->size() == 2);
        cancelled_session found;
        CHECK_FALSE(journal->find(session_id(1), found));
        CHECK_FALSE(journal->find(session_id(2), found));
    }

    SECTION("lines of forgotten sessions are compacted away") {
        auto journal = cancelled_journal::open(path, fsync_policy::none, true, ec);
        REQUIRE_FALSE(ec);
        constexpr unsigned count = 5000;
        for (unsigned n = 1; n <= count; ++n) REQUIRE_FALSE(journal->record(record(n)));
        const auto full = fs::file_size(path);
        for (unsigned n = 1; n < count; ++n) REQUIRE_FALSE(journal->forget(session_id(n)));
        CHECK(journal->forget(session_id(1)) == storage_errc::session_not_found);
        CHECK(journal->size() == 1);
        CHECK(fs::file_size(path) < full / 4);
        journal.reset();
        journal = cancelled_journal::open(path, fsync_policy::none, true, ec);
        REQUIRE_FALSE(ec);
        CHECK(journal->size() == 1);
        cancelled_session found;
        CHECK_FALSE(journal->find(session_id(count), found));
        CHECK(found.cancelled_unix == 1700000000 + count);
    }
}

TEST_CASE("filesystem store: a session with a delivery record keeps its directory when cancelled",
          "[storage][cancelled]") {
    // Its delivery record is durable state a journal line does not hold: the delivery's release
    // (cancel, then `closed`) must find it again (e2e.test_delivery_async_e2e).
    temp_dir dir;
    const fs::path root = dir / "store";
    auto store = open_store(root);
    const std::string id = session_id(5);
    session_metadata metadata = owned_metadata(5);
    REQUIRE_FALSE(store->create(metadata));
    REQUIRE_FALSE(append(*store, id, "finalised"));
    metadata.delivery.state = delivery_state::delivered;
    metadata.delivery.idempotency_key = "key-5";
    REQUIRE_FALSE(store->update(metadata));
    REQUIRE_FALSE(store->cancel(id));
    session_info info;
    REQUIRE_FALSE(store->info(id, info));
    CHECK(info.metadata.state == session_state::cancelled);
    CHECK(info.metadata.delivery.state == delivery_state::delivered);
    CHECK(info.metadata.delivery.idempotency_key == "key-5");
    CHECK(info.received == 0);
    info.metadata.state = session_state::closed;
    REQUIRE_FALSE(store->update(info.metadata));
    REQUIRE_FALSE(store->info(id, info));
    CHECK(info.metadata.state == session_state::closed);
    CHECK(info.metadata.delivery.state == delivery_state::delivered);
}

TEST_CASE("every name the store keeps in data_dir is in the reserved list", "[storage]") {
    // The configuration refuses a destination on any reserved name (data_dir_layout.hpp); a
    // name the store writes beside them would escape that check.
    temp_dir dir;
    {
        auto store = open_store(dir.path());
        for (unsigned n = 1; n <= 3; ++n) {
            REQUIRE_FALSE(store->create(owned_metadata(n)));
            REQUIRE_FALSE(append(*store, owned_metadata(n).id, "abc"));
            REQUIRE_FALSE(store->cancel(owned_metadata(n).id));
        }
    }
    std::set<std::string> reserved;
    for (const auto name : data_dir_layout::reserved) reserved.insert(std::string(name));
    std::size_t entries = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        INFO(entry.path().filename().string());
        CHECK(reserved.count(entry.path().filename().string()) == 1);
        ++entries;
    }
    CHECK(entries >= 3);  // sessions, the lock and the journal at least
}
