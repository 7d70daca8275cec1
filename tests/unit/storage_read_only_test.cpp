// filesystem_store::open_for_reading: the read-only view `bitsd deliveries list` takes of a
// data_dir a running daemon owns (it holds <data_dir>/bitsd.lock): no lock, nothing created.

#include "storage/filesystem_store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace bitsd::storage;
using namespace bitsd::storage::test;

TEST_CASE("filesystem store read-only view beside the daemon's store", "[storage][readonly]") {
    temp_dir dir;
    std::error_code ec;
    auto owner = make_filesystem_store(dir.path(), fsync_policy::none, ec);
    REQUIRE_FALSE(ec);
    const auto id = session_id(1);
    REQUIRE_FALSE(owner->create(make_metadata(id)));

    // The owner keeps its lock; the reader neither needs nor takes it.
    auto reader = filesystem_store::open_for_reading(dir.path(), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(reader);
    session_info info;
    CHECK_FALSE(reader->info(id, info));
    CHECK(info.metadata.id == id);
    std::vector<std::string> listed;
    CHECK_FALSE(reader->list([&](const session_info& s) { listed.push_back(s.metadata.id); }));
    CHECK(listed == std::vector<std::string>{id});
    // A second owner is still refused: the reader did not take the lock away.
    CHECK_FALSE(make_filesystem_store(dir.path(), fsync_policy::none, ec));
    CHECK(ec == storage_errc::store_in_use);
}

TEST_CASE("filesystem store read-only view of a missing data_dir creates nothing", "[storage][readonly]") {
    temp_dir dir;
    std::error_code ec;
    CHECK_FALSE(filesystem_store::open_for_reading(dir / "absent", ec));
    CHECK(ec == storage_errc::session_not_found);
    CHECK_FALSE(fs::exists(dir / "absent"));
    // A directory that is no store (no sessions/ folder) is refused the same way, untouched.
    CHECK_FALSE(filesystem_store::open_for_reading(dir.path(), ec));
    CHECK(ec == storage_errc::session_not_found);
    CHECK(fs::is_empty(dir.path()));
}
