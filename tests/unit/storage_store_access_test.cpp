// store_access::read_only, for `bitsd sessions list|show` beside a running daemon: no lock
// taken (the daemon's stays), nothing created, and what the daemon wrote is read back.

#include "storage/filesystem_store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace bitsd::storage;
using namespace bitsd::storage::test;

TEST_CASE("filesystem store: a read-only store reads beside the daemon's exclusive one", "[storage]") {
    temp_dir dir;
    std::error_code ec;
    auto daemon = filesystem_store::open(dir.path(), fsync_policy::none, ec);
    REQUIRE_FALSE(ec);
    session_metadata m;
    m.id = "{0A1B2C3D-0000-4000-8000-000000000001}";
    m.url_prefix = "/uploads/";
    m.target = "/uploads/a.bin";
    REQUIRE_FALSE(daemon->create(m));

    auto reader = filesystem_store::open(dir.path(), fsync_policy::none, ec, store_access::read_only);
    REQUIRE_FALSE(ec);
    REQUIRE(reader);
    session_info info;
    CHECK_FALSE(reader->info(m.id, info));
    CHECK(info.metadata.target == "/uploads/a.bin");
    int seen = 0;
    CHECK_FALSE(reader->list([&](const session_info&) { ++seen; }));
    CHECK(seen == 1);
    // The daemon's lock is untouched: a second exclusive store is still refused.
    auto second = filesystem_store::open(dir.path(), fsync_policy::none, ec);
    CHECK(ec == storage_errc::store_in_use);
    CHECK_FALSE(second);
}

TEST_CASE("filesystem store: a read-only store creates nothing", "[storage]") {
    temp_dir dir;
    std::error_code ec;
    auto reader = filesystem_store::open(dir / "missing", fsync_policy::none, ec, store_access::read_only);
    REQUIRE_FALSE(ec);
    CHECK_FALSE(fs::exists(dir / "missing"));
    CHECK(reader->list([](const session_info&) {}));  // no sessions folder: an error, not a crash
    CHECK_FALSE(fs::exists(dir / "missing"));
}

}  // namespace
