// disk_reserve (issue 9): refuses new work below the configured free bytes or inodes.

#include "protocol/bits_error.hpp"
#include "server/disk_reserve.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>

using bitsd::server::disk_reserve;

TEST_CASE("disk_reserve: below the free-byte or free-inode reserve is low_on_space", "[server][disk_reserve]") {
    const auto here = std::filesystem::temp_directory_path();
    constexpr auto huge = std::numeric_limits<std::uint64_t>::max();
    CHECK_FALSE(disk_reserve(here, 0, 0).check());
    CHECK_FALSE(disk_reserve(here, 1, 0).check());
    CHECK(disk_reserve(here, huge, 0).check() == bitsd::protocol::bits_errc::low_on_space);
    CHECK(disk_reserve(here, 0, huge).check() == bitsd::protocol::bits_errc::low_on_space);
    // A folder that cannot be asked is not a reason to refuse: the store reports real failures.
    CHECK_FALSE(disk_reserve(here / "no such folder here", huge, huge).check());
}
