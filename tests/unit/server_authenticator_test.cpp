// authenticator (issue 9, authentication): Basic against crypt(3) hashes and the credentials
// file checks at start-up. POSIX only (libxcrypt; the Windows build refuses Basic at config time,
// tests/unit/config_platform_support_test.cpp); trusted-header is server_trusted_header_test.cpp.

#include "server/authenticator.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <crypt.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>

using bitsd::server::auth_verdict;
using bitsd::server::authenticator;
namespace cfg = bitsd::config;

namespace {

std::string hash_of(const char* password, const char* method) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    REQUIRE(crypt_gensalt_rn(method, 0, nullptr, 0, setting, sizeof setting) != nullptr);
    crypt_data data{};
    const char* hash = crypt_rn(password, setting, &data, sizeof data);
    REQUIRE(hash != nullptr);
    return hash;
}

std::string basic(const std::string& user_colon_password) {
    // Fixed encodings of the few strings the cases use.
    if (user_colon_password == "alice:pw") return "Basic YWxpY2U6cHc=";
    if (user_colon_password == "alice:px") return "Basic YWxpY2U6cHg=";
    if (user_colon_password == "bob:pw") return "Basic Ym9iOnB3";
    if (user_colon_password == "carol:pw") return "Basic Y2Fyb2w6cHc=";
    FAIL("no encoding for " << user_colon_password);
    return {};
}

cfg::auth_settings basic_settings(const std::filesystem::path& file) {
    cfg::auth_settings s;
    s.type = cfg::auth_type::basic;
    s.credentials_file = file;
    s.realm = "R";
    s.allow_basic_without_tls = true;
    return s;
}

const auto loopback = boost::asio::ip::make_address("127.0.0.1");

}  // namespace

TEST_CASE("authenticator: Basic against yescrypt and sha512-crypt hashes", "[server][auth]") {
    bitsd::test::temp_dir dir;
    {
        std::ofstream f(dir / "users");
        f << "# users\n\nalice:" << hash_of("pw", "$y$") << "\nbob:" << hash_of("pw", "$6$") << "\n";
    }
    const authenticator auth(basic_settings(dir / "users"), "uploads[0].auth");
    CHECK(auth.challenge() == "Basic realm=\"R\", charset=\"UTF-8\"");
    auto v = auth.check(basic("alice:pw"), std::nullopt, loopback);
    CHECK(v.result == auth_verdict::kind::allowed);
    CHECK(v.principal == "user:alice");
    CHECK(auth.check(basic("bob:pw"), std::nullopt, loopback).principal == "user:bob");
    CHECK(auth.check("basic YWxpY2U6cHc=", std::nullopt, loopback).result == auth_verdict::kind::allowed);
    for (const char* wrong : {"Basic YWxpY2U6cHg=", "Basic Y2Fyb2w6cHc=", "Basic YWxpY2U6cHc", "Basic !!!!",
                              "Basic YWxpY2U=", "Bearer YWxpY2U6cHc=", "Basic", ""}) {
        CAPTURE(wrong);
        CHECK(auth.check(std::string_view(wrong), std::nullopt, loopback).result == auth_verdict::kind::challenge);
    }
    CHECK(auth.check(std::nullopt, std::nullopt, loopback).result == auth_verdict::kind::challenge);
}

TEST_CASE("authenticator: an unusable credentials file stops start-up, naming the key", "[server][auth]") {
    bitsd::test::temp_dir dir;
    const auto refused = [&](const std::string& content, const std::string& why) {
        std::ofstream(dir / "users", std::ios::trunc) << content;
        try {
            authenticator auth(basic_settings(dir / "users"), "uploads[2].auth");
            FAIL("accepted: " << content);
        } catch (const std::runtime_error& e) {
            const std::string message = e.what();
            CHECK(message.rfind("uploads[2].auth.credentials_file: ", 0) == 0);
            CHECK(message.find(why) != std::string::npos);
        }
    };
    refused("alice:pw\n", "not a crypt(3) hash");
    refused("alice:$1$salt$hash\n", "not a crypt(3) hash");  // MD5-crypt: legacy
    refused("alice\n", "expected \"user:hash\"");
    refused(":" + hash_of("pw", "$y$") + "\n", "expected \"user:hash\"");
    refused("a:" + hash_of("pw", "$y$") + "\na:" + hash_of("pw", "$y$") + "\n", "listed twice");
    CHECK_THROWS_AS(authenticator(basic_settings(dir / "missing"), "k"), std::runtime_error);
}

TEST_CASE("authenticator: reload swaps the credentials, keeps them on failure", "[server][auth]") {
    bitsd::test::temp_dir dir;
    std::ofstream(dir / "users") << "alice:" << hash_of("pw", "$y$") << "\n";
    authenticator auth(basic_settings(dir / "users"), "k");
    std::ofstream(dir / "users", std::ios::trunc) << "bob:" << hash_of("pw", "$y$") << "\n";
    std::string error;
    REQUIRE(auth.reload(error));
    CHECK(auth.check(basic("bob:pw"), std::nullopt, loopback).result == auth_verdict::kind::allowed);
    CHECK(auth.check(basic("alice:pw"), std::nullopt, loopback).result == auth_verdict::kind::challenge);
    std::ofstream(dir / "users", std::ios::trunc) << "bob:plaintext\n";
    CHECK_FALSE(auth.reload(error));
    CHECK(error.find("not a crypt(3) hash") != std::string::npos);
    CHECK(auth.check(basic("bob:pw"), std::nullopt, loopback).result == auth_verdict::kind::allowed);
}

TEST_CASE("authenticator: a verified credential is remembered, a wrong one never", "[server][auth]") {
    bitsd::test::temp_dir dir;
    std::ofstream(dir / "users") << "alice:" << hash_of("pw", "$6$") << "\n";
    authenticator auth(basic_settings(dir / "users"), "k");
    const auto now = bitsd::server::credential_cache::clock::now();
    // No hash is needed to refuse a missing or malformed header.
    CHECK(auth.start_basic(std::nullopt, now).verdict->result == auth_verdict::kind::challenge);
    CHECK(auth.start_basic(std::string_view("Basic !!!!"), now).verdict->result == auth_verdict::kind::challenge);
    // A well-formed one needs a check, until it passed once.
    auto first = auth.start_basic(basic("alice:pw"), now);
    REQUIRE_FALSE(first.verdict);
    REQUIRE(first.attempt);
    CHECK(first.attempt->user == "alice");
    CHECK(first.attempt->password == "pw");
    CHECK(auth.verify(*first.attempt, now).principal == "user:alice");
    auto again = auth.start_basic(basic("alice:pw"), now + std::chrono::seconds(59));
    REQUIRE(again.verdict);
    CHECK(again.verdict->result == auth_verdict::kind::allowed);
    CHECK(again.verdict->principal == "user:alice");
    CHECK(auth.start_basic(basic("alice:pw"), now + authenticator::remember_for).attempt);
    // A wrong password is checked every time.
    auto wrong = auth.start_basic(basic("alice:px"), now);
    REQUIRE(wrong.attempt);
    CHECK(auth.verify(*wrong.attempt, now).result == auth_verdict::kind::challenge);
    CHECK(auth.start_basic(basic("alice:px"), now).attempt);
    // The key is a digest of the header, not the password itself.
    CHECK(first.attempt->key != wrong.attempt->key);

    // A reload forgets what was remembered: a changed password stops passing at once.
    std::ofstream(dir / "users", std::ios::trunc) << "alice:" << hash_of("new", "$6$") << "\n";
    std::string error;
    REQUIRE(auth.reload(error));
    auto after = auth.start_basic(basic("alice:pw"), now);
    REQUIRE(after.attempt);
    CHECK(auth.verify(*after.attempt, now).result == auth_verdict::kind::challenge);
}

TEST_CASE("authenticator: an unknown user is checked against the most expensive method", "[server][auth]") {
    bitsd::test::temp_dir dir;
    std::ofstream(dir / "users") << "bob:" << hash_of("pw", "$6$") << "\nalice:" << hash_of("pw", "$y$")
                                 << "\ncarl:" << hash_of("pw", "$6$") << "\n";
    const authenticator mixed(basic_settings(dir / "users"), "k");
    CHECK(mixed.dummy_hash().rfind("$y$", 0) == 0);
    CHECK(mixed.check(basic("carol:pw"), std::nullopt, loopback).result == auth_verdict::kind::challenge);

    std::ofstream(dir / "users", std::ios::trunc) << "bob:" << hash_of("pw", "$6$") << "\n";
    const authenticator sha(basic_settings(dir / "users"), "k");
    CHECK(sha.dummy_hash().rfind("$6$", 0) == 0);

    std::ofstream(dir / "users", std::ios::trunc) << "# nobody\n";
    const authenticator empty(basic_settings(dir / "users"), "k");
    CHECK(empty.dummy_hash().empty());
    CHECK(empty.check(basic("bob:pw"), std::nullopt, loopback).result == auth_verdict::kind::challenge);
}
