// Credentials from a netrc-style file: machine entries, the default entry, quoting, macdef.

#include "client/netrc.hpp"

#include <catch2/catch.hpp>

using namespace bitsd::client;

TEST_CASE("client netrc: the machine entry for the host", "[client][netrc]") {
    const char* text =
        "machine other login o password op\n"
        "machine upload.example.com\n"
        "  login alice\n"
        "  password s3cret\n"
        "default login anon password guest\n";
    const auto c = find_netrc_credentials(text, "upload.example.com");
    REQUIRE(c.has_value());
    CHECK(c->user == "alice");
    CHECK(c->password == "s3cret");
    SECTION("host names compare case-insensitively") {
        const auto upper = find_netrc_credentials(text, "UPLOAD.Example.COM");
        REQUIRE(upper.has_value());
        CHECK(upper->user == "alice");
    }
    SECTION("the default entry for any other host") {
        const auto d = find_netrc_credentials(text, "elsewhere");
        REQUIRE(d.has_value());
        CHECK(d->user == "anon");
        CHECK(d->password == "guest");
    }
}

TEST_CASE("client netrc: the first matching machine wins; entries on one line", "[client][netrc]") {
    const auto c = find_netrc_credentials(
        "machine h login first password 1 machine h login second password 2", "h");
    REQUIRE(c.has_value());
    CHECK(c->user == "first");
    CHECK(c->password == "1");
}

TEST_CASE("client netrc: no entry, no default", "[client][netrc]") {
    CHECK_FALSE(find_netrc_credentials("machine a login x password y", "b").has_value());
    CHECK_FALSE(find_netrc_credentials("", "b").has_value());
    CHECK_FALSE(find_netrc_credentials("machine b password onlypass", "b").has_value());
}

TEST_CASE("client netrc: quoted tokens, account, macdef and a missing password",
          "[client][netrc]") {
    const char* text =
        "macdef init\n"
        "machine h login evil password evil\n"
        "\n"
        "machine h account acct login \"bob smith\" password \"p a\\\"ss\"\n"
        "machine nopw login carol\n";
    const auto c = find_netrc_credentials(text, "h");
    REQUIRE(c.has_value());
    CHECK(c->user == "bob smith");
    CHECK(c->password == "p a\"ss");
    const auto n = find_netrc_credentials(text, "nopw");
    REQUIRE(n.has_value());
    CHECK(n->user == "carol");
    CHECK(n->password.empty());
}
