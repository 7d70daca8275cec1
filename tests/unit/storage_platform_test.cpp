// The POSIX file layer under the filesystem store: the calls whose edge cases the store relies on.
#ifndef _WIN32

#include "storage/platform_file.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace bitsd::storage;
using namespace bitsd::storage::test;

}  // namespace

TEST_CASE("platform: no-replace moves refuse an existing name and keep the source", "[storage]") {
    using mover = std::error_code (*)(const fs::path&, const fs::path&) noexcept;
    const mover move = GENERATE(as<mover>{}, static_cast<mover>(&platform::rename_no_replace),
                                static_cast<mover>(&platform::link_no_replace));
    temp_dir dir;
    write_file(dir / "from", "source");
    write_file(dir / "taken", "taken");

    CHECK(move(dir / "from", dir / "taken") == std::errc::file_exists);
    CHECK(read_file(dir / "from") == "source");
    CHECK(read_file(dir / "taken") == "taken");

    REQUIRE_FALSE(move(dir / "from", dir / "free"));
    CHECK_FALSE(fs::exists(dir / "from"));
    CHECK(read_file(dir / "free") == "source");
    CHECK(fs::hard_link_count(dir / "free") == 1);  // moved, not copied or left linked

    CHECK(move(dir / "missing", dir / "other") == std::errc::no_such_file_or_directory);
}

TEST_CASE("platform: rename_replace replaces", "[storage]") {
    temp_dir dir;
    write_file(dir / "from", "new");
    write_file(dir / "to", "old");
    REQUIRE_FALSE(platform::rename_replace(dir / "from", dir / "to"));
    CHECK(read_file(dir / "to") == "new");
    CHECK_FALSE(fs::exists(dir / "from"));
}

TEST_CASE("platform: files open, append, report their status and sync", "[storage]") {
    temp_dir dir;
    std::error_code ec;
    {
        platform::file_handle file = platform::open_file(dir / "f", platform::open_mode::append, ec);
        REQUIRE_FALSE(ec);
        std::size_t written = 0;
        REQUIRE_FALSE(platform::write_all(file, "abc", 3, written));
        CHECK(written == 3);
        REQUIRE_FALSE(platform::sync_data(file));
        REQUIRE_FALSE(platform::sync_all(file));
    }
    {
        platform::file_handle file = platform::open_file(dir / "f", platform::open_mode::append, ec);
        REQUIRE_FALSE(ec);
        std::size_t written = 0;
        REQUIRE_FALSE(platform::write_all(file, "def", 3, written));
        platform::file_status status;
        REQUIRE_FALSE(platform::status_of(file, status));
        CHECK(status.size == 6);
        CHECK(status.mtime_unix > 1600000000);
        REQUIRE_FALSE(file.close());
        CHECK_FALSE(file.is_open());
    }
    CHECK(read_file(dir / "f") == "abcdef");

    platform::file_handle again = platform::open_file(dir / "f", platform::open_mode::create_new, ec);
    CHECK(ec == std::errc::file_exists);
    CHECK_FALSE(again.is_open());

    platform::file_status status;
    CHECK(platform::status_of(dir / "missing", status) == std::errc::no_such_file_or_directory);
    REQUIRE_FALSE(platform::sync_directory(dir.path()));
    CHECK(platform::sync_directory(dir / "missing"));
    REQUIRE_FALSE(platform::remove_file(dir / "f"));
    CHECK(platform::remove_file(dir / "f") == std::errc::no_such_file_or_directory);
}

TEST_CASE("platform: a full disk is storage_errc::disk_full", "[storage]") {
    if (!fs::exists("/dev/full")) {
        WARN("no /dev/full: ENOSPC mapping not exercised");
        return;
    }
    std::error_code ec;
    platform::file_handle file = platform::open_file("/dev/full", platform::open_mode::append, ec);
    REQUIRE_FALSE(ec);
    std::size_t written = 0;
    const std::error_code failure = platform::write_all(file, "x", 1, written);
    CHECK(failure == storage_errc::disk_full);
    CHECK(is_disk_full(failure));
    CHECK(written == 0);
}

#endif  // _WIN32
