// BITS-Signature: v1, HMAC-SHA256 over "<t>.<Idempotency-Key>.<Repr-Digest>"; v2 over the
// canonical text of the whole request; and the loading rules of signing_secret_file. The
// expected MACs were computed independently with Python 3 (v2: README's verifier's lines):
//   hmac.new(b"whsec_test_secret", b'1700000000."3f0c2a9e-8b1d-4c57-9e0a-6d2b1f4c8a71".'
//            b"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", hashlib.sha256).hexdigest()
//   hmac.new(b"whsec_test_secret", b"0.k.sha-256=:AA==:", hashlib.sha256).hexdigest()
// and the plain HMAC rows are RFC 4231's test cases 1 and 2.

#include "delivery/delivery_error.hpp"
#include "delivery/request_signature.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

using bitsd::delivery::delivery_errc;
using bitsd::delivery::hmac_sha256_hex;
using bitsd::delivery::request_signature;
using bitsd::protocol::header_list;

namespace {

std::string write_secret(const bitsd::test::temp_dir& dir, const std::string& name,
                         const std::string& content, mode_t mode) {
    const auto path = (dir / name).string();
    {
        std::ofstream out(path, std::ios::binary);
        out << content;
    }
    ::chmod(path.c_str(), mode);
    return path;
}

// The v1 part of the header value for a request carrying only this key and digest.
std::string v1_of(const request_signature& signer, std::int64_t t, const std::string& key,
                  const std::string& digest) {
    const auto value = signer.header_value(t, "POST", "/", {{"Idempotency-Key", key}, {"Repr-Digest", digest}});
    return value.substr(0, value.find(",v2="));
}

const header_list sample_headers{
    {"BITS-Original-Request-URL", "https://bits.example.org/uploads/a.bin?t=7"},
    {"BITS-Request-DataFile-Name", "/var/lib/bitsd/sessions/1F/{ID}/data"},
    {"BITS-Response-DataFile-Name", "/var/lib/bitsd/sessions/1F/{ID}/reply"},
    {"BITS-Session-Id", "{C85B4E0A-9EB9-4114-BFA4-8A43B4710091}"},
    {"BITS-Upload-Size", "4892"},
    {"Idempotency-Key", "\"3f0c2a9e-8b1d-4c57-9e0a-6d2b1f4c8a71\""},
    {"Repr-Digest", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"},
    {"Content-Length", "0"},
};

}  // namespace

TEST_CASE("delivery: HMAC-SHA256 matches RFC 4231", "[delivery]") {
    CHECK(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("delivery: the BITS-Signature header value", "[delivery]") {
    const auto signer = request_signature::from_secret("whsec_test_secret");
    // The header values as sent: the key quoted (an sf-string), the digest wrapped.
    CHECK(v1_of(signer, 1700000000, "\"3f0c2a9e-8b1d-4c57-9e0a-6d2b1f4c8a71\"",
                "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:") ==
          "t=1700000000,v1=6b5bb97a5b4473e59148db568654e933aa04509966a824ce8943169199865514");
    CHECK(v1_of(signer, 0, "k", "sha-256=:AA==:") ==
          "t=0,v1=157c765757fab51f3e0c5af9d46b04c4bcc7cb470acc4c0c73d4187bf34c55de");
    // Another time, key or digest is another signature.
    CHECK(v1_of(signer, 1, "k", "sha-256=:AA==:") != v1_of(signer, 0, "k", "sha-256=:AA==:"));
    CHECK(v1_of(signer, 0, "j", "sha-256=:AA==:") != v1_of(signer, 0, "k", "sha-256=:AA==:"));
}

TEST_CASE("delivery: v2 signs the canonical text of everything the back-end acts on", "[delivery]") {
    const auto signer = request_signature::from_secret("whsec_test_secret");
    CHECK(bitsd::delivery::canonical_request(1700000000, "POST", "/ingest?t=7", sample_headers) ==
          "1700000000\nPOST\n/ingest?t=7\n"
          "bits-original-request-url:https://bits.example.org/uploads/a.bin?t=7\n"
          "bits-request-datafile-name:/var/lib/bitsd/sessions/1F/{ID}/data\n"
          "bits-response-datafile-name:/var/lib/bitsd/sessions/1F/{ID}/reply\n"
          "bits-session-id:{C85B4E0A-9EB9-4114-BFA4-8A43B4710091}\n"
          "bits-upload-size:4892\n"
          "idempotency-key:\"3f0c2a9e-8b1d-4c57-9e0a-6d2b1f4c8a71\"\n"
          "repr-digest:sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\n"
          "content-length:0");
    CHECK(signer.header_value(1700000000, "POST", "/ingest?t=7", sample_headers) ==
          "t=1700000000,v1=6b5bb97a5b4473e59148db568654e933aa04509966a824ce8943169199865514,"
          "v2=4df6bedd0835cb06ab7d1ea11c6ff6bd86c513cba9a817a5abbb5a58e0efcc8f");
    const auto v2_of = [&](std::string_view method, std::string_view target, const header_list& headers) {
        const auto value = signer.header_value(1700000000, method, target, headers);
        return value.substr(value.find(",v2="));
    };
    const auto original = v2_of("POST", "/ingest?t=7", sample_headers);
    CHECK(v2_of("PUT", "/ingest?t=7", sample_headers) != original);
    CHECK(v2_of("POST", "/ingest?t=8", sample_headers) != original);
    for (std::size_t i = 0; i < sample_headers.size(); ++i) {
        CAPTURE(sample_headers[i].first);
        auto forged = sample_headers;
        forged[i].second += "x";
        CHECK(v2_of("POST", "/ingest?t=7", forged) != original);
        // Absent is the empty value, never the same as the value sent.
        forged.erase(forged.begin() + static_cast<std::ptrdiff_t>(i));
        CHECK(v2_of("POST", "/ingest?t=7", forged) != original);
    }
    // Header names are matched case-insensitively; headers outside the list are not signed.
    auto renamed = sample_headers;
    renamed[0].first = "bits-original-request-url";
    renamed.emplace_back("User-Agent", "anything");
    CHECK(v2_of("POST", "/ingest?t=7", renamed) == original);
}

TEST_CASE("delivery: the signing secret is read trimmed from a private file", "[delivery]") {
    bitsd::test::temp_dir dir;
    request_signature signer;
    CHECK(signer.empty());
    SECTION("trailing line ends and surrounding blanks are not part of the secret") {
        const auto path = write_secret(dir, "key", "  whsec_test_secret\r\n\n", 0600);
        REQUIRE_FALSE(request_signature::load(path, signer));
        CHECK_FALSE(signer.empty());
        CHECK(signer.header_value(0, "POST", "/", sample_headers) ==
              request_signature::from_secret("whsec_test_secret").header_value(0, "POST", "/", sample_headers));
    }
    SECTION("group-readable is fine (root:bitsd 0640)") {
        REQUIRE_FALSE(request_signature::load(write_secret(dir, "key", "s", 0640), signer));
    }
    SECTION("a symbolic link to a private file is followed") {
        const auto target = write_secret(dir, "key", "s", 0400);
        const auto link = (dir / "link").string();
        REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
        REQUIRE_FALSE(request_signature::load(link, signer));
    }
}

TEST_CASE("delivery: unusable signing secret files are refused", "[delivery]") {
    bitsd::test::temp_dir dir;
    auto signer = request_signature::from_secret("before");
    const auto untouched = signer.header_value(0, "POST", "/", sample_headers);
    CHECK(request_signature::load((dir / "missing").string(), signer) ==
          delivery_errc::secret_file_unreadable);
    CHECK(request_signature::load(dir.path().string(), signer) == delivery_errc::secret_file_unreadable);
    CHECK(request_signature::load(write_secret(dir, "world", "s", 0604), signer) ==
          delivery_errc::secret_file_too_open);
    CHECK(request_signature::load(write_secret(dir, "writable", "s", 0602), signer) ==
          delivery_errc::secret_file_too_open);
    CHECK(request_signature::load(write_secret(dir, "empty", "", 0600), signer) ==
          delivery_errc::secret_file_empty);
    CHECK(request_signature::load(write_secret(dir, "blank", " \n\t\r\n", 0600), signer) ==
          delivery_errc::secret_file_empty);
    CHECK(request_signature::load(write_secret(dir, "huge", std::string(64 * 1024 + 1, 'x'), 0600),
                                  signer) == delivery_errc::secret_file_unreadable);
    CHECK(signer.header_value(0, "POST", "/", sample_headers) == untouched);  // a refusal changes nothing
}
