// The streaming SHA-256 behind Repr-Digest (RFC 9530) and its rebuild from disk after a restart.
// Expected values were computed independently with Python:
//   base64.b64encode(hashlib.sha256(data).digest())

#include "delivery/content_digest.hpp"
#include "delivery/delivery_error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

using bitsd::delivery::base64_encode;
using bitsd::delivery::content_digest;
using bitsd::delivery::delivery_errc;

namespace {

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

}  // namespace

TEST_CASE("delivery: SHA-256 of known inputs, in base64 and hex", "[delivery]") {
    content_digest digest;
    CHECK(digest.bytes() == 0);
    CHECK(digest.base64() == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    CHECK(digest.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest.update("abc", 3);
    CHECK(digest.base64() == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    CHECK(digest.bytes() == 3);
}

TEST_CASE("delivery: the digest takes chunks of any size and can be read in between", "[delivery]") {
    // A million 'a' (the FIPS 180-2 long message), fed in uneven chunks.
    const std::string block(1000, 'a');
    content_digest digest;
    std::size_t fed = 0;
    std::size_t step = 1;
    while (fed < 1000000) {
        const auto n = std::min<std::size_t>(step, 1000000 - fed);
        digest.update(block.data(), std::min<std::size_t>(n, block.size()));
        fed += std::min<std::size_t>(n, block.size());
        step = step * 7 % 997 + 1;
        if (fed == 500000) CHECK_FALSE(digest.base64().empty());  // reading does not end it
    }
    CHECK(digest.bytes() == 1000000);
    CHECK(digest.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK(digest.base64() == "zcduXJkU+5KBocfihNc+Z/GAmkiklyAOBG05zMcRLNA=");
    digest.reset();
    CHECK(digest.bytes() == 0);
    CHECK(digest.base64() == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST_CASE("delivery: after a restart the digest is rebuilt from the bytes on disk", "[delivery]") {
    bitsd::test::temp_dir dir;
    const auto path = (dir / "upload.bin").string();
    std::string content;
    for (int i = 0; i < 700000; ++i) content += static_cast<char>(i * 31 % 251);
    write_file(path, content);

    content_digest streamed;
    streamed.update(content.data(), content.size());

    // The first 300000 bytes from disk, then the rest as it arrives.
    content_digest resumed;
    REQUIRE_FALSE(resumed.update_from_file(path, 0, 300000));
    CHECK(resumed.bytes() == 300000);
    resumed.update(content.data() + 300000, content.size() - 300000);
    CHECK(resumed.base64() == streamed.base64());

    content_digest middle;
    REQUIRE_FALSE(middle.update_from_file(path, 0, 10));
    REQUIRE_FALSE(middle.update_from_file(path, 10, content.size() - 10));
    CHECK(middle.hex() == streamed.hex());

    content_digest nothing;
    REQUIRE_FALSE(nothing.update_from_file(path, 5, 0));
    CHECK(nothing.bytes() == 0);
}

TEST_CASE("delivery: rebuilding from a missing or short file fails", "[delivery]") {
    bitsd::test::temp_dir dir;
    const auto path = (dir / "short.bin").string();
    write_file(path, "0123456789");
    content_digest digest;
    CHECK(digest.update_from_file((dir / "missing.bin").string(), 0, 1) ==
          delivery_errc::data_file_unreadable);
    CHECK(digest.update_from_file(path, 0, 11) == delivery_errc::data_file_too_short);
    CHECK(digest.update_from_file(dir.path().string(), 0, 1) == delivery_errc::data_file_unreadable);
}

TEST_CASE("delivery: base64 with padding", "[delivery]") {
    CHECK(base64_encode("", 0).empty());
    CHECK(base64_encode("f", 1) == "Zg==");
    CHECK(base64_encode("fo", 2) == "Zm8=");
    CHECK(base64_encode("foo", 3) == "Zm9v");
    CHECK(base64_encode("\xff\xfe", 2) == "//4=");
    const std::error_code ec = delivery_errc::data_file_too_short;
    CHECK(ec.category().name() == std::string("bitsd.delivery"));
    CHECK_FALSE(ec.message().empty());
}

TEST_CASE("delivery: the digest of the MC-BUP 4.2 capture's file matches its recorded sha256", "[delivery]") {
    // tests/data/wire/mcbup-4.2.json: the one Fragment carries the whole 4892-byte file.
    const auto capture = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" /
                         "wire" / "mcbup-4.2.json";
    std::ifstream in(capture);
    REQUIRE(in.good());
    const auto json = nlohmann::json::parse(in);
    const auto& fragment = json.at("exchanges").at(2).at("request");
    REQUIRE(fragment.at("headers").at(1).at(1) == "Fragment");
    const auto encoded = fragment.at("body_b64").get<std::string>();
    std::string body(encoded.size() / 4 * 3 + 1, '\0');
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(body.data()),
                                        reinterpret_cast<const unsigned char*>(encoded.data()),
                                        static_cast<int>(encoded.size()));
    REQUIRE(decoded > 0);
    const auto padding = static_cast<std::size_t>(std::count(encoded.end() - 2, encoded.end(), '='));
    body.resize(static_cast<std::size_t>(decoded) - padding);
    REQUIRE(body.size() == fragment.at("body_len").get<std::size_t>());

    content_digest digest;
    digest.update(body.data(), body.size());
    CHECK(digest.hex() == fragment.at("body_sha256").get<std::string>());
    // The Repr-Digest value, computed with Python from the same bytes.
    CHECK(digest.base64() == "36sC8kp+6IBFBU6oyNpApFxtbFGapVTUyOgbPeT3Ci8=");
}
