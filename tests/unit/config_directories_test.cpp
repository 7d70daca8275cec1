// prepare_directories: creating data_dir and destinations, proving them writable, and refusing
// destinations that would land inside the session store.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

using bitsd::test::temp_dir;

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

cfg::settings settings_in(const fs::path& data_dir) {
    cfg::settings s;
    s.data_dir = data_dir;
    cfg::apply_defaults(s);
    return s;
}

// prepare_directories' refusal of `destination` with data_dir `data`: the message, which names
// the upload's key.
std::string refusal(const fs::path& data, const fs::path& destination) {
    INFO(destination.string());
    cfg::settings s = settings_in(data);
    s.uploads[0].destination_dir = destination;
    const auto error = cfg::prepare_directories(s);
    REQUIRE(error);
    INFO(error->message);
    CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
    return error->message;
}

void write_file(const fs::path& path) {
    std::ofstream file(path);
    file << "not a directory";
}

}  // namespace

TEST_CASE("prepare_directories creates data_dir and destinations and leaves nothing behind",
          "[config]") {
    temp_dir scratch;
    cfg::settings s = settings_in(scratch.path() / "data" / "deeper");
    cfg::upload_prefix other;
    other.url_prefix = "/other/";
    other.destination_dir = scratch.path() / "out" / "other";
    s.uploads.push_back(other);

    const auto error = cfg::prepare_directories(s);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    CHECK(fs::is_directory(s.data_dir));
    CHECK(fs::is_directory(s.uploads[0].destination_dir));  // data/deeper/files
    CHECK(fs::is_directory(other.destination_dir));
    CHECK(fs::is_empty(other.destination_dir));  // the write probe was removed
    CHECK(fs::is_empty(s.uploads[0].destination_dir));

    // Existing directories are fine the second time round.
    CHECK_FALSE(cfg::prepare_directories(s));
}

TEST_CASE("prepare_directories reports a data_dir that cannot be created", "[config]") {
    // Tests run as root, so permission bits prove nothing: a path below a regular file can
    // never be created, whoever asks.
    temp_dir scratch;
    write_file(scratch.path() / "file");
    const auto error = cfg::prepare_directories(settings_in(scratch.path() / "file" / "sub"));
    REQUIRE(error);
    INFO(error->message);
    CHECK(starts_with(error->message, "data_dir: cannot create \""));
    CHECK(error->message.find("file") != std::string::npos);
}

TEST_CASE("prepare_directories reports a data_dir that is a regular file", "[config]") {
    temp_dir scratch;
    write_file(scratch.path() / "file");
    const auto error = cfg::prepare_directories(settings_in(scratch.path() / "file"));
    REQUIRE(error);
    INFO(error->message);
    CHECK(starts_with(error->message, "data_dir: "));
}

TEST_CASE("prepare_directories reports a destination that cannot be created", "[config]") {
    temp_dir scratch;
    write_file(scratch.path() / "file");
    cfg::settings s = settings_in(scratch.path() / "data");
    cfg::upload_prefix bad;
    bad.url_prefix = "/bad/";
    bad.destination_dir = scratch.path() / "file" / "sub";
    s.uploads.push_back(bad);
    const auto error = cfg::prepare_directories(s);
    REQUIRE(error);
    INFO(error->message);
    CHECK(starts_with(error->message, "uploads[1].destination_dir: cannot create \""));
}

#ifdef __linux__
TEST_CASE("prepare_directories proves writability, not mere existence", "[config]") {
    // /proc exists and is a directory, but no one, root included, can create a file in it.
    const auto error = cfg::prepare_directories(settings_in("/proc"));
    REQUIRE(error);
    INFO(error->message);
    CHECK(starts_with(error->message, "data_dir: not writable: "));
}
#endif

TEST_CASE("a destination inside data_dir/sessions is refused before anything is created",
          "[config]") {
    temp_dir scratch;
    for (const fs::path& destination :
         {scratch.path() / "data" / "sessions", scratch.path() / "data" / "sessions" / "x",
          scratch.path() / "data" / "." / "sessions" / "" , scratch.path() / "data" / "y" / ".." / "sessions" / "z"}) {
        INFO(destination.string());
        cfg::settings s = settings_in(scratch.path() / "data");
        s.uploads[0].destination_dir = destination;
        const auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        INFO(error->message);
        CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
        CHECK(error->message.find("sessions") != std::string::npos);
        CHECK_FALSE(fs::exists(scratch.path() / "data"));
    }
    // A sibling whose name merely starts with "sessions" is fine.
    cfg::settings s = settings_in(scratch.path() / "data");
    s.uploads[0].destination_dir = scratch.path() / "data" / "sessions-done";
    CHECK_FALSE(cfg::prepare_directories(s));
}

TEST_CASE("a destination equal to data_dir or containing it is refused", "[config]") {
    // Clients could otherwise write into data_dir/sessions, where bitsd trusts what it finds.
    temp_dir scratch;
    const fs::path data = scratch.path() / "up" / ".bitsd";
    for (const fs::path& destination :
         {data, data / "", data / "x" / "..", scratch.path() / "up", scratch.path() / "up" / "",
          scratch.path(), scratch.path() / "up" / "." / ".bitsd" / ".."}) {
        CHECK(refusal(data, destination).find("overlaps data_dir") != std::string::npos);
        CHECK_FALSE(fs::exists(data));
    }
}

#ifndef _WIN32
// [posix]: wine 8.0 cannot create symbolic links (CreateSymbolicLinkW: "Function not implemented");
// README "Windows": a real Windows host must run this one.
TEST_CASE("overlap with data_dir is found through symlinked spellings", "[config][posix]") {
    temp_dir scratch;
    fs::create_directories(scratch.path() / "real" / "data");
    fs::create_directory_symlink(scratch.path() / "real", scratch.path() / "link");
    for (const fs::path& destination :
         {scratch.path() / "link" / "data", scratch.path() / "link",
          scratch.path() / "link" / "data" / "sessions" / "x"}) {
        INFO(destination.string());
        cfg::settings s = settings_in(scratch.path() / "real" / "data");
        s.uploads[0].destination_dir = destination;
        const auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        INFO(error->message);
        CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
    }
    // And the other way round: data_dir spelled through the link.
    cfg::settings s = settings_in(scratch.path() / "link" / "data");
    s.uploads[0].destination_dir = scratch.path() / "real";
    const auto error = cfg::prepare_directories(s);
    REQUIRE(error);
    CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
}
#endif

TEST_CASE("a destination inside data_dir but apart from its own folders is allowed",
          "[config]") {
    // The default (<data_dir>/files) is such a sibling of sessions/: a client writing below it
    // can never reach the session store.
    temp_dir scratch;
    cfg::settings s = settings_in(scratch.path() / "data");
    REQUIRE(s.uploads[0].destination_dir == scratch.path() / "data" / "files");
    CHECK_FALSE(cfg::prepare_directories(s));
    s.uploads[0].destination_dir = scratch.path() / "data" / "deep" / "er";
    CHECK_FALSE(cfg::prepare_directories(s));
    // data_dir's own folders are listed in one place, and every one of them is refused.
    REQUIRE_FALSE(cfg::data_dir_subfolders.empty());
    for (const auto& folder : cfg::data_dir_subfolders) {
        INFO(std::string(folder));
        s.uploads[0].destination_dir = scratch.path() / "data" / std::string(folder) / "x";
        const auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
    }
}

TEST_CASE("every name bitsd keeps inside data_dir is refused as a destination", "[config]") {
    // The operator's retry requests, the store's lock and its journal (and the journal's
    // compaction file) live beside sessions/: a destination there or inside one of them would
    // let clients write what bitsd reads as its own.
    temp_dir scratch;
    const fs::path data = scratch.path() / "data";
    for (const char* name : {"sessions", "delivery-retries", "bitsd.lock", "cancelled-sessions.journal",
                             "cancelled-sessions.journal.tmp"}) {
        for (const fs::path& destination : {data / name, data / name / "x", data / "." / name / ""}) {
            CHECK(refusal(data, destination).find("where bitsd keeps its own files") != std::string::npos);
        }
    }
}

namespace {

cfg::settings two_prefixes(const fs::path& root, const fs::path& first, const fs::path& second) {
    cfg::settings s;
    s.data_dir = root / "data";
    cfg::upload_prefix a;
    a.url_prefix = "/a/";
    a.destination_dir = first;
    cfg::upload_prefix b;
    b.url_prefix = "/b/";
    b.destination_dir = second;
    s.uploads = {a, b};
    return s;
}

}  // namespace

TEST_CASE("destinations of two prefixes must not nest unless the outer one allows it",
          "[config]") {
    temp_dir scratch;
    const fs::path out = scratch.path() / "out";
    SECTION("disjoint destinations are fine") {
        CHECK_FALSE(cfg::prepare_directories(two_prefixes(scratch.path(), out / "a", out / "b")));
        CHECK_FALSE(cfg::prepare_directories(two_prefixes(scratch.path(), out / "a", out / "ab")));
    }
    SECTION("the second inside the first: the first (outer) must allow it") {
        auto s = two_prefixes(scratch.path(), out, out / "inner");
        auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        INFO(error->message);
        CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
        CHECK(error->message.find("uploads[1].destination_dir") != std::string::npos);
        CHECK(error->message.find("allow_nested_destination") != std::string::npos);
        CHECK_FALSE(fs::exists(out));
        s.uploads[1].allow_nested_destination = true;  // the inner one's word is not enough
        CHECK(cfg::prepare_directories(s));
        s.uploads[0].allow_nested_destination = true;
        error = cfg::prepare_directories(s);
        INFO((error ? error->message : std::string()));
        CHECK_FALSE(error);
    }
    SECTION("the first inside the second: the second must allow it") {
        auto s = two_prefixes(scratch.path(), out / "x" / ".." / "inner", out);
        auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        INFO(error->message);
        CHECK(starts_with(error->message, "uploads[1].destination_dir: "));
        CHECK(error->message.find("uploads[0].destination_dir") != std::string::npos);
        s.uploads[1].allow_nested_destination = true;
        CHECK_FALSE(cfg::prepare_directories(s));
    }
    SECTION("equal destinations need it on both") {
        auto s = two_prefixes(scratch.path(), out / "same", out / "same" / "");
        auto error = cfg::prepare_directories(s);
        REQUIRE(error);
        CHECK(starts_with(error->message, "uploads[0].destination_dir: "));
        s.uploads[0].allow_nested_destination = true;
        error = cfg::prepare_directories(s);
        REQUIRE(error);
        INFO(error->message);
        CHECK(starts_with(error->message, "uploads[1].destination_dir: "));
        s.uploads[1].allow_nested_destination = true;
        CHECK_FALSE(cfg::prepare_directories(s));
    }
}

TEST_CASE("prepare_directories check_only creates nothing and lists what is missing",
          "[config]") {
    temp_dir scratch;
    cfg::settings s = settings_in(scratch.path() / "data" / "deeper");
    std::vector<fs::path> missing;
    const auto error = cfg::prepare_directories(s, cfg::directory_action::check_only, &missing);
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    CHECK(fs::is_empty(scratch.path()));  // nothing created, the probe file removed
    REQUIRE(missing.size() == 2);
    CHECK(missing[0] == s.data_dir);
    CHECK(missing[1] == s.uploads[0].destination_dir);

    // A directory that could not be created is an error in check_only too.
    write_file(scratch.path() / "file");
    const auto blocked = cfg::prepare_directories(settings_in(scratch.path() / "file" / "sub"),
                                                  cfg::directory_action::check_only);
    REQUIRE(blocked);
    CHECK(starts_with(blocked->message, "data_dir: cannot create"));
    CHECK_FALSE(fs::exists(scratch.path() / "file" / "sub"));
}
