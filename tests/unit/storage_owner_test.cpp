// The owner of a session (issue 9, session ownership) survives the metadata file, and metadata
// written before owners were recorded still reads (owner "" = anyone).

#include "storage/metadata_codec.hpp"
#include "storage/storage_error.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace bitsd::storage;

TEST_CASE("metadata: the owner round-trips; none is written when there is none", "[storage][owner]") {
    session_metadata m;
    m.id = "{00000000-0000-0000-0000-000000000001}";
    m.url_prefix = "/uploads/";
    m.target = "/uploads/a.bin";
    m.destination = "/srv/a.bin";
    m.created_unix = 5;
    std::string text;
    REQUIRE_FALSE(encode_metadata(m, text));
    CHECK(text.find("owner") == std::string::npos);
    session_metadata back;
    REQUIRE_FALSE(decode_metadata(text, back));
    CHECK(back.owner.empty());

    m.owner = "192.0.2.7";
    REQUIRE_FALSE(encode_metadata(m, text));
    REQUIRE_FALSE(decode_metadata(text, back));
    CHECK(back.owner == "192.0.2.7");
}

TEST_CASE("metadata: an owner that is not a string is corrupt", "[storage][owner]") {
    const std::string text = R"({"version": 1, "id": "{00000000-0000-0000-0000-000000000001}",
        "url_prefix": "/uploads/", "target": "/uploads/a.bin", "destination": "/srv/a.bin",
        "total": null, "state": "receiving", "created_unix": 5, "owner": 7})";
    session_metadata back;
    CHECK(decode_metadata(text, back) == storage_errc::corrupt_metadata);
}
