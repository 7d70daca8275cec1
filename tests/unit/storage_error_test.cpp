// storage_errc as std::error_code, and the persisted state names.

#include "storage/session_record.hpp"
#include "storage/storage_error.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <set>
#include <string>

using namespace bitsd::storage;

TEST_CASE("storage errors are error_codes of their own category", "[storage]") {
    const std::error_code ec = storage_errc::offset_mismatch;  // implicit, via is_error_code_enum
    CHECK(ec.category() == storage_category());
    CHECK(std::string(storage_category().name()) == "bitsd.storage");
    CHECK(ec == storage_errc::offset_mismatch);
    CHECK(ec != storage_errc::wrong_state);
    CHECK(static_cast<bool>(ec));

    std::set<std::string> messages;
    for (int value = static_cast<int>(storage_errc::session_not_found);
         value <= static_cast<int>(storage_errc::disk_full); ++value) {
        const std::string message = make_error_code(static_cast<storage_errc>(value)).message();
        CHECK_FALSE(message.empty());
        CHECK(message != "unknown storage error");
        messages.insert(message);
    }
    CHECK(messages.size() == 7);  // one distinct message each
}

TEST_CASE("is_disk_full recognises out-of-space in any category", "[storage]") {
    CHECK(is_disk_full(storage_errc::disk_full));
    CHECK(is_disk_full(std::error_code(ENOSPC, std::system_category())));
    CHECK(is_disk_full(std::error_code(ENOSPC, std::generic_category())));
#ifdef EDQUOT
    CHECK(is_disk_full(std::error_code(EDQUOT, std::system_category())));
#endif
    CHECK_FALSE(is_disk_full(std::error_code()));
    CHECK_FALSE(is_disk_full(storage_errc::offset_mismatch));
    CHECK_FALSE(is_disk_full(std::error_code(EIO, std::system_category())));
    // And the other way: a disk_full code answers to the portable condition.
    CHECK(std::error_code(storage_errc::disk_full) == std::errc::no_space_on_device);
}

TEST_CASE("session states round-trip through their persisted names", "[storage]") {
    for (const auto state : {session_state::receiving, session_state::committing, session_state::closed,
                             session_state::cancelled}) {
        CHECK(session_state_from_string(to_string(state)) == state);
    }
    CHECK(std::string(to_string(session_state::receiving)) == "receiving");
    CHECK(std::string(to_string(session_state::committing)) == "committing");
    CHECK(std::string(to_string(session_state::closed)) == "closed");
    CHECK(std::string(to_string(session_state::cancelled)) == "cancelled");
    CHECK_FALSE(session_state_from_string(""));
    CHECK_FALSE(session_state_from_string("Receiving"));
    CHECK_FALSE(session_state_from_string("delivered"));
}
