// The session_store contract, run against every store: what a caller may rely on whichever
// store the daemon was configured with.

#include "storage/session_store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <map>
#include <set>

namespace {

using namespace bitsd::storage;
using namespace bitsd::storage::test;

// Appends `bytes` at `offset` in one request: open, write, finish.
std::error_code append(session_store& store, const std::string& id, std::uint64_t offset,
                       const std::string& bytes) {
    std::error_code ec;
    auto writer = store.open_append(id, offset, ec);
    if (ec) {
        CHECK_FALSE(writer);
        return ec;
    }
    REQUIRE(writer);
    CHECK(writer->offset() == offset);
    if ((ec = writer->write(bytes.data(), bytes.size()))) return ec;
    CHECK(writer->offset() == offset + bytes.size());
    return writer->finish();
}

session_info info_of(session_store& store, const std::string& id) {
    session_info info;
    const std::error_code ec = store.info(id, info);
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    return info;
}

// A session with `bytes` received.
std::string make_session(session_store& store, unsigned n, const std::string& bytes = {}) {
    const std::string id = session_id(n);
    REQUIRE_FALSE(store.create(make_metadata(id)));
    if (!bytes.empty()) REQUIRE_FALSE(append(store, id, 0, bytes));
    return id;
}

}  // namespace

TEMPLATE_TEST_CASE("store: create then info", "[storage]", filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    session_metadata metadata = make_metadata(session_id(1, "abcdef01"));
    metadata.total = 12345;
    REQUIRE_FALSE(store->create(metadata));

    const session_info info = info_of(*store, "{ABCDEF01-0000-4000-8000-000000000001}");
    CHECK(info.metadata.id == "{ABCDEF01-0000-4000-8000-000000000001}");  // stored upper case
    CHECK(info.metadata.url_prefix == metadata.url_prefix);
    CHECK(info.metadata.target == metadata.target);
    CHECK(info.metadata.destination == metadata.destination);
    CHECK(info.metadata.total == std::optional<std::uint64_t>(12345));
    CHECK(info.metadata.created_unix == metadata.created_unix);
    CHECK(info.metadata.state == session_state::receiving);
    CHECK(info.received == 0);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    CHECK(info.last_activity_unix >= now - 5);
    CHECK(info.last_activity_unix <= now + 5);

    // Lookups are case-insensitive.
    CHECK(info_of(*store, "{abcdef01-0000-4000-8000-000000000001}").metadata.id == info.metadata.id);
}

TEMPLATE_TEST_CASE("store: create of a taken id is session_exists", "[storage]", filesystem_factory,
                   memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 2, "abc");
    CHECK(store->create(make_metadata(id)) == storage_errc::session_exists);
    CHECK(store->create(make_metadata(ascii_lower_for_test(id))) == storage_errc::session_exists);
    CHECK(info_of(*store, id).received == 3);  // the first session is untouched
}

TEMPLATE_TEST_CASE("store: ids that are not GUIDs are never found", "[storage]", filesystem_factory,
                   memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    make_session(*store, 3, "x");
    for (const std::string bad :
         {"", "../x", "{..}", "..", "/", "{0123ABCD-0000-4000-8000-000000000003", "0123ABCD-0000-4000-8000-000000000003",
          "{0123ABCD-0000-4000-8000-000000000003}/..", "{0123ABCD/0000-4000-8000-000000000003}",
          "{../../../../../../../../../../../../..}", "{0123ABCD-0000-4000-8000-00000000000G}",
          "{0123ABCD00000-4000-8000-000000000003}"}) {
        INFO("id: " << bad);
        session_info info;
        CHECK(store->info(bad, info) == storage_errc::session_not_found);
        std::error_code ec;
        CHECK_FALSE(store->open_append(bad, 0, ec));
        CHECK(ec == storage_errc::session_not_found);
        CHECK(store->commit(bad, to(dir / "out" / "f"), true) == storage_errc::session_not_found);
        CHECK(store->cancel(bad) == storage_errc::session_not_found);
        CHECK(store->remove(bad, nullptr) == storage_errc::session_not_found);
        CHECK(store->update(make_metadata(bad)) == storage_errc::session_not_found);
        CHECK(store->create(make_metadata(bad)) == storage_errc::session_not_found);
    }
    CHECK_FALSE(fs::exists(dir / "out"));
    CHECK_FALSE(fs::exists(dir / "x"));
}

TEMPLATE_TEST_CASE("store: unknown ids are session_not_found", "[storage]", filesystem_factory,
                   memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = session_id(4);
    session_info info;
    CHECK(store->info(id, info) == storage_errc::session_not_found);
    std::error_code ec;
    CHECK_FALSE(store->open_append(id, 0, ec));
    CHECK(ec == storage_errc::session_not_found);
    CHECK(store->update(make_metadata(id)) == storage_errc::session_not_found);
    CHECK(store->commit(id, to(dir / "f"), true) == storage_errc::session_not_found);
    CHECK(store->cancel(id) == storage_errc::session_not_found);
    CHECK(store->remove(id, nullptr) == storage_errc::session_not_found);
}

TEMPLATE_TEST_CASE("store: appends accumulate and must start at the stored end", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 5);

    REQUIRE_FALSE(append(*store, id, 0, "hello "));
    REQUIRE_FALSE(append(*store, id, 6, "brave "));
    CHECK(append(*store, id, 0, "again") == storage_errc::offset_mismatch);   // behind the end
    CHECK(append(*store, id, 100, "gap") == storage_errc::offset_mismatch);   // past the end
    CHECK(append(*store, id, 11, "short") == storage_errc::offset_mismatch);  // one short
    REQUIRE_FALSE(append(*store, id, 12, "new world"));
    CHECK(info_of(*store, id).received == 21);

    // Several writes through one appender, then the bytes are delivered in order.
    std::error_code ec;
    auto writer = store->open_append(id, 21, ec);
    REQUIRE_FALSE(ec);
    for (char c = 'a'; c <= 'e'; ++c) REQUIRE_FALSE(writer->write(&c, 1));
    REQUIRE_FALSE(writer->write("", 0));
    CHECK(writer->offset() == 26);
    REQUIRE_FALSE(writer->finish());
    writer.reset();
    CHECK(info_of(*store, id).received == 26);

    REQUIRE_FALSE(store->commit(id, to(dir / "out.bin"), false));
    CHECK(read_file(dir / "out.bin") == "hello brave new worldabcde");
}

TEMPLATE_TEST_CASE("store: update replaces metadata but not the received length", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 6, "1234");
    session_metadata metadata = info_of(*store, id).metadata;
    CHECK_FALSE(metadata.total);
    metadata.total = 10;
    metadata.target = "/uploads/other.bin";
    REQUIRE_FALSE(store->update(metadata));
    const session_info info = info_of(*store, id);
    CHECK(info.metadata.total == std::optional<std::uint64_t>(10));
    CHECK(info.metadata.target == "/uploads/other.bin");
    CHECK(info.received == 4);
}

TEMPLATE_TEST_CASE("store: commit delivers the bytes and closes the session", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 7, "payload");
    const fs::path destination = dir / "deep" / "er" / "down" / "file.bin";  // parents missing

    REQUIRE_FALSE(store->commit(id, to(destination), false));
    CHECK(read_file(destination) == "payload");
    session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::closed);
    CHECK(info.metadata.destination == destination.string());

    // Closed sessions take no more bytes.
    CHECK(append(*store, id, 0, "x") == storage_errc::wrong_state);
    CHECK(append(*store, id, 7, "x") == storage_errc::wrong_state);

    // A repeated commit (a client repeating Close) succeeds and changes nothing...
    write_file(destination, "consumer changed it");
    CHECK_FALSE(store->commit(id, to(destination), false));
    CHECK_FALSE(store->commit(id, to(destination), true));
    CHECK(read_file(destination) == "consumer changed it");
    // ...but a commit elsewhere is not a repeat.
    CHECK(store->commit(id, to(dir / "elsewhere.bin"), true) == storage_errc::wrong_state);
    CHECK_FALSE(fs::exists(dir / "elsewhere.bin"));
    CHECK(info_of(*store, id).metadata.state == session_state::closed);
}

TEMPLATE_TEST_CASE("store: commit never overwrites unless asked to", "[storage]", filesystem_factory,
                   memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 8, "new bytes");
    const fs::path destination = dir / "existing.bin";
    write_file(destination, "old");

    CHECK(store->commit(id, to(destination), false) == storage_errc::destination_exists);
    CHECK(read_file(destination) == "old");
    session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::receiving);
    CHECK(info.received == 9);
    // Nothing changed: the session still takes bytes where it left off.
    REQUIRE_FALSE(append(*store, id, 9, "!"));

    REQUIRE_FALSE(store->commit(id, to(destination), true));
    CHECK(read_file(destination) == "new bytes!");
    CHECK(info_of(*store, id).metadata.state == session_state::closed);
}

TEMPLATE_TEST_CASE("store: a zero-byte upload commits to an empty file", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 9);
    const fs::path destination = dir / "sub" / "empty.bin";
    REQUIRE_FALSE(store->commit(id, to(destination), false));
    REQUIRE(fs::is_regular_file(destination));
    CHECK(fs::file_size(destination) == 0);
    CHECK(info_of(*store, id).metadata.state == session_state::closed);
}

TEMPLATE_TEST_CASE("store: a failed commit keeps the session receiving", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 10, "keep me");
    fs::create_directories(dir / "a-directory" / "with-content");

    CHECK(store->commit(id, to(dir / "a-directory"), true));  // cannot replace a directory
    CHECK(store->commit(id, to(dir / "nowhere" / ""), true) == std::errc::invalid_argument);
    session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::receiving);
    CHECK(info.received == 7);
    REQUIRE_FALSE(store->commit(id, to(dir / "ok.bin"), true));
    CHECK(read_file(dir / "ok.bin") == "keep me");
}

TEMPLATE_TEST_CASE("store: cancel drops the bytes and leaves a tombstone", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 11, "doomed");

    REQUIRE_FALSE(store->cancel(id));
    session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::cancelled);
    CHECK(info.received == 0);
    CHECK(append(*store, id, 0, "x") == storage_errc::wrong_state);
    CHECK(store->commit(id, to(dir / "f.bin"), true) == storage_errc::wrong_state);
    CHECK_FALSE(fs::exists(dir / "f.bin"));
    CHECK_FALSE(store->cancel(id));  // again: still fine
    CHECK(info_of(*store, id).metadata.state == session_state::cancelled);
}

TEMPLATE_TEST_CASE("store: cancel after commit leaves the delivered file alone", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 12, "delivered");
    REQUIRE_FALSE(store->commit(id, to(dir / "f.bin"), false));
    REQUIRE_FALSE(store->cancel(id));
    CHECK(info_of(*store, id).metadata.state == session_state::closed);
    CHECK(read_file(dir / "f.bin") == "delivered");
}

TEMPLATE_TEST_CASE("store: remove forgets the session", "[storage]", filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 13, "bytes");
    const std::string other = make_session(*store, 14, "other");
    REQUIRE_FALSE(store->remove(id, nullptr));
    session_info info;
    CHECK(store->info(id, info) == storage_errc::session_not_found);
    CHECK(store->remove(id, nullptr) == storage_errc::session_not_found);
    CHECK(info_of(*store, other).received == 5);
    // The id can be used again from scratch.
    REQUIRE_FALSE(store->create(make_metadata(id)));
    CHECK(info_of(*store, id).received == 0);
    // Tombstones go the same way.
    REQUIRE_FALSE(store->cancel(other));
    REQUIRE_FALSE(store->remove(other, nullptr));
    CHECK(store->info(other, info) == storage_errc::session_not_found);
}

TEMPLATE_TEST_CASE("store: list visits every session, tombstones included", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    std::map<std::string, session_state> expected;
    for (unsigned n = 0; n < 20; ++n) {
        const std::string id = session_id(n, n % 2 ? "ab000000" : "cd000000");
        REQUIRE_FALSE(store->create(make_metadata(id)));
        REQUIRE_FALSE(append(*store, id, 0, std::string(n, 'x')));
        expected[id] = session_state::receiving;
    }
    const std::string closed = session_id(3, "ab000000");
    const std::string cancelled = session_id(4, "cd000000");
    REQUIRE_FALSE(store->commit(closed, to(dir / "closed.bin"), false));
    REQUIRE_FALSE(store->cancel(cancelled));
    expected[closed] = session_state::closed;
    expected[cancelled] = session_state::cancelled;

    std::map<std::string, session_info> seen;
    REQUIRE_FALSE(store->list([&](const session_info& info) {
        CHECK(seen.emplace(info.metadata.id, info).second);  // each once
    }));
    REQUIRE(seen.size() == expected.size());
    for (const auto& [id, state] : expected) {
        INFO(id);
        REQUIRE(seen.count(id) == 1);
        CHECK(seen[id].metadata.state == state);
    }
    CHECK(seen[session_id(7, "ab000000")].received == 7);

    REQUIRE_FALSE(store->remove(closed, nullptr));
    std::size_t count = 0;
    REQUIRE_FALSE(store->list([&](const session_info&) { ++count; }));
    CHECK(count == expected.size() - 1);
}

TEMPLATE_TEST_CASE("store: a visitor's exception reaches the caller of list", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    make_session(*store, 30, "x");
    struct visitor_error {};
    CHECK_THROWS_AS(store->list([](const session_info&) { throw visitor_error{}; }), visitor_error);
    CHECK(info_of(*store, session_id(30)).received == 1);  // the store is unharmed
}

// The release after a delivery records `closed` before it frees the bytes, so the state a crash
// between the two leaves is a closed session with bytes: release() again frees them.
TEMPLATE_TEST_CASE("store: release closes a delivered session, then frees its bytes", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 1, "0123456789");
    session_metadata metadata = info_of(*store, id).metadata;
    metadata.delivery.state = delivery_state::delivered;
    SECTION("from receiving") {
        REQUIRE_FALSE(store->update(metadata));
    }
    SECTION("from closed with its bytes still there (a release a crash cut short)") {
        metadata.state = session_state::closed;
        REQUIRE_FALSE(store->update(metadata));
        CHECK(info_of(*store, id).received == 10);
    }
    REQUIRE_FALSE(store->release(id));
    const session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::closed);
    CHECK(info.metadata.delivery.state == delivery_state::delivered);
    CHECK(info.received == 0);
    REQUIRE_FALSE(store->release(id));  // again: nothing left to free
    CHECK(info_of(*store, id).metadata.state == session_state::closed);
}

TEMPLATE_TEST_CASE("store: release of a session being committed is wrong_state", "[storage]",
                   filesystem_factory, memory_factory) {
    temp_dir dir;
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 1, "0123456789");
    session_metadata metadata = info_of(*store, id).metadata;
    metadata.state = session_state::committing;
    REQUIRE_FALSE(store->update(metadata));
    CHECK(store->release(id) == storage_errc::wrong_state);
    CHECK(store->release(session_id(2)) == storage_errc::session_not_found);
}
