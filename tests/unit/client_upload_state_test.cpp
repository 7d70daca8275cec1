// The state file of bits-upload: JSON round trip, what makes a stored state unusable, and the
// atomic file on disk.

#include "client/upload_state.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <random>

using namespace bitsd::client;
namespace fs = std::filesystem;

namespace {

using bitsd::test::temp_dir;

upload_state sample_state() {
    upload_state s;
    s.url = "http://127.0.0.1:8080/uploads/a.bin";
    s.file = "/home/u/a.bin";
    s.source = {104857600, 1795614427516897591};
    s.session_id = "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}";
    s.offset = 13369344;
    s.fragment_size = 65536;
    s.host_override = "node7";
    s.host_fallback_timeout_s = 110;
    s.reply_url = "http://node7/r";
    return s;
}

}  // namespace

TEST_CASE("client state: JSON round trip", "[client][state]") {
    const auto s = sample_state();
    const auto decoded = decode_state(encode_state(s));
    INFO(decoded.error);
    REQUIRE(decoded.state.has_value());
    CHECK(*decoded.state == s);

    SECTION("optional fields may be null") {
        upload_state fresh;
        fresh.url = "http://h/f";
        fresh.file = "/f";
        fresh.source = {0, 0};
        fresh.fragment_size = 8388608;
        const auto again = decode_state(encode_state(fresh));
        REQUIRE(again.state.has_value());
        CHECK(*again.state == fresh);
        CHECK_FALSE(again.state->session_id.has_value());
        CHECK_FALSE(again.state->host_override.has_value());
    }
}

TEST_CASE("client state: the JSON carries the documented keys", "[client][state]") {
    const auto text = encode_state(sample_state());
    for (const char* key : {"\"version\": 1", "\"url\"", "\"file\"", "\"size\": 104857600",
                            "\"mtime\"", "\"session_id\"", "\"offset\": 13369344",
                            "\"fragment_size\": 65536", "\"host_override\": \"node7\""}) {
        CAPTURE(key);
        CHECK_THAT(text, Catch::Contains(key));
    }
}

TEST_CASE("client state: text that is not a state file is refused", "[client][state]") {
    const char* text = GENERATE(
        "", "[]", "{", "{\"version\": 2}", "{\"version\": 1}",
        "{\"version\":1,\"url\":\"u\",\"file\":\"f\",\"size\":10,\"mtime\":0,\"offset\":11}",
        "{\"version\":1,\"url\":1,\"file\":\"f\",\"size\":10,\"mtime\":0,\"offset\":0}",
        "{\"version\":1,\"url\":\"u\",\"file\":\"f\",\"size\":-1,\"mtime\":0,\"offset\":0}");
    CAPTURE(text);
    const auto decoded = decode_state(text);
    CHECK_FALSE(decoded.state.has_value());
    CHECK_FALSE(decoded.error.empty());
}

TEST_CASE("client state: a changed file or URL makes the stored state unusable",
          "[client][state]") {
    const auto s = sample_state();
    CHECK(state_mismatch(s, s.url, s.file, s.source).empty());
    CHECK_THAT(state_mismatch(s, "http://127.0.0.1:8080/uploads/b.bin", s.file, s.source),
               Catch::Contains("another URL"));
    CHECK_THAT(state_mismatch(s, s.url, "/home/u/b.bin", s.source),
               Catch::Contains("another file"));
    CHECK_THAT(state_mismatch(s, s.url, s.file, {s.source.size + 1, s.source.mtime_ns}),
               Catch::Contains("size"));
    CHECK_THAT(state_mismatch(s, s.url, s.file, {s.source.size, s.source.mtime_ns + 1}),
               Catch::Contains("modified"));
}

TEST_CASE("client state: the default path is beside the source", "[client][state]") {
    CHECK(default_state_path("/data/big.iso") == fs::path("/data/big.iso.bits-upload"));
    CHECK(default_state_path("big.iso") == fs::path("big.iso.bits-upload"));
}

TEST_CASE("client state: save, load, replace and remove on disk", "[client][state]") {
    temp_dir dir;
    const state_file file(dir.path() / "a.bin.bits-upload");
    std::string error;
    CHECK_FALSE(file.load(error).has_value());
    CHECK(error.empty());  // no file is not an error

    auto s = sample_state();
    REQUIRE_FALSE(file.save(s));
    auto loaded = file.load(error);
    REQUIRE(loaded.has_value());
    CHECK(*loaded == s);

    s.offset += 65536;
    REQUIRE_FALSE(file.save(s));
    loaded = file.load(error);
    REQUIRE(loaded.has_value());
    CHECK(loaded->offset == s.offset);
    CHECK_FALSE(fs::exists(dir.path() / "a.bin.bits-upload.tmp"));
#ifndef _WIN32  // Windows has no mode bits: the folder's ACL decides (atomic_file_windows.cpp)
    CHECK((fs::status(file.path()).permissions() & fs::perms::others_read) == fs::perms::none);
#endif

    REQUIRE_FALSE(file.remove());
    CHECK_FALSE(fs::exists(file.path()));
    CHECK_FALSE(file.remove());  // removing twice is fine

    SECTION("a corrupt file is reported, not trusted") {
        std::ofstream(file.path()) << "{ not json";
        CHECK_FALSE(file.load(error).has_value());
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("client state: saving into a missing directory fails cleanly", "[client][state]") {
    temp_dir dir;
    const state_file file(dir.path() / "missing" / "x.bits-upload");
    CHECK(file.save(sample_state()));
}
