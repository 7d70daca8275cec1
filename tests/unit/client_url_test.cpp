// The destination URL: parsing, the Host header, Host-Id substitution and reply URLs
// (bits-protocol.md §1.2, §5.5, §6).

#include "client/url.hpp"

#include <catch2/catch.hpp>

using namespace bitsd::client;

TEST_CASE("client url: http URLs parse into host, port and target", "[client][url]") {
    struct row {
        const char* text;
        const char* host;
        std::uint16_t port;
        const char* target;
    };
    const row r = GENERATE(values<row>({
        {"http://server:8080/uploads/app.log", "server", 8080, "/uploads/app.log"},
        {"http://server/uploads/app.log", "server", 80, "/uploads/app.log"},
        {"HTTP://Server/a", "Server", 80, "/a"},
        {"http://127.0.0.1:1/x?y=1", "127.0.0.1", 1, "/x?y=1"},
        {"http://[::1]:8080/x", "::1", 8080, "/x"},
        {"http://[fe80::1]/x", "fe80::1", 80, "/x"},
        {"http://h/a b/c", "h", 80, "/a%20b/c"},
        {"http://h/{G}/f", "h", 80, "/%7BG%7D/f"},
        {"http://h/%41%zz", "h", 80, "/%41%25zz"},
        {"http://h/f#frag", "h", 80, "/f"},
        {"http://h?q", "h", 80, "/?q"},
        {"http://h/dir/?q", "h", 80, "/dir/?q"},
    }));
    CAPTURE(r.text);
    const auto parsed = parse_url(r.text);
    INFO(parsed.error);
    REQUIRE(parsed.url.has_value());
    CHECK(parsed.url->host == r.host);
    CHECK(parsed.url->port == r.port);
    CHECK(parsed.url->target == r.target);
    CHECK_FALSE(parsed.url->user.has_value());
}

TEST_CASE("client url: userinfo gives credentials", "[client][url]") {
    const auto parsed = parse_url("http://alice:s%40cret@h:81/f");
    REQUIRE(parsed.url.has_value());
    CHECK(parsed.url->user == std::optional<std::string>("alice"));
    CHECK(parsed.url->password == std::optional<std::string>("s@cret"));
    CHECK(parsed.url->host == "h");
    CHECK(to_string(*parsed.url) == "http://h:81/f");  // never the password

    const auto user_only = parse_url("http://bob@h/f");
    REQUIRE(user_only.url.has_value());
    CHECK(user_only.url->user == std::optional<std::string>("bob"));
    CHECK_FALSE(user_only.url->password.has_value());
}

TEST_CASE("client url: bad URLs are refused with a reason", "[client][url]") {
    struct row {
        const char* text;
        const char* reason;
    };
    const row r = GENERATE(values<row>({
        {"https://h/f", "TLS"},
        {"ftp://h/f", "http://"},
        {"h/f", "http://"},
        {"http:///f", "no host"},
        {"http://h:0/f", "port"},
        {"http://h:65536/f", "port"},
        {"http://h:x/f", "port"},
        {"http://h:/f", "port"},
        {"http://[::1/f", "IPv6"},
        {"http://[::1]x/f", "IPv6"},
        {"http://h/dir/", "directory"},
        {"http://h", "directory"},
        {"http://h h/f", "host"},
        {"http://a%zz@h/f", "user"},
    }));
    CAPTURE(r.text);
    const auto parsed = parse_url(r.text);
    CHECK_FALSE(parsed.url.has_value());
    CHECK_THAT(parsed.error, Catch::Contains(r.reason));
}

TEST_CASE("client url: the Host header and the printable form", "[client][url]") {
    CHECK(host_header(*parse_url("http://h/f").url) == "h");
    CHECK(host_header(*parse_url("http://h:8080/f").url) == "h:8080");
    CHECK(host_header(*parse_url("http://[::1]:8080/f").url) == "[::1]:8080");
    CHECK(host_header(*parse_url("http://[::1]/f").url) == "[::1]");
    CHECK(to_string(*parse_url("http://[::1]:8080/a%20b").url) == "http://[::1]:8080/a%20b");
}

TEST_CASE("client url: BITS-Host-Id replaces the host and keeps port and path", "[client][url]") {
    const auto url = *parse_url("http://alice:pw@front:8080/uploads/f?x").url;
    const auto moved = with_host(url, "node7");
    CHECK(moved.host == "node7");
    CHECK(moved.port == 8080);
    CHECK(moved.target == "/uploads/f?x");
    CHECK(moved.user == url.user);
    CHECK(to_string(with_host(url, "[fe80::2]")) == "http://[fe80::2]:8080/uploads/f?x");
    CHECK(to_string(with_host(url, "fe80::2")) == "http://[fe80::2]:8080/uploads/f?x");
}

TEST_CASE("client url: BITS-Reply-URL, absolute or relative to the destination",
          "[client][url]") {
    const auto base = *parse_url("http://alice:pw@front:8080/vdir/sub/file.bin?q=1").url;
    SECTION("absolute") {
        const auto r = resolve_reply_url(base, "http://other:81/replies/%7BG%7D/reply");
        REQUIRE(r.url.has_value());
        CHECK(to_string(*r.url) == "http://other:81/replies/%7BG%7D/reply");
        CHECK_FALSE(r.url->user.has_value());
    }
    SECTION("relative with backslashes, as IIS sends it") {
        const auto r = resolve_reply_url(
            base, "BITS-Sessions\\Replies\\{C85B4E0A-9EB9-4114-BFA4-8A43B4710091}\\responsefile.bin");
        REQUIRE(r.url.has_value());
        CHECK(to_string(*r.url) ==
              "http://front:8080/vdir/sub/BITS-Sessions/Replies/"
              "%7BC85B4E0A-9EB9-4114-BFA4-8A43B4710091%7D/responsefile.bin");
        CHECK_FALSE(r.url->user.has_value());
    }
    SECTION("absolute path") {
        const auto r = resolve_reply_url(base, "/r/1");
        REQUIRE(r.url.has_value());
        CHECK(to_string(*r.url) == "http://front:8080/r/1");
    }
    SECTION("https cannot be fetched yet") {
        const auto r = resolve_reply_url(base, "https://other/r");
        CHECK_FALSE(r.url.has_value());
        CHECK_THAT(r.error, Catch::Contains("TLS"));
    }
}

TEST_CASE("client url: encode_target escapes only what a request-target cannot carry",
          "[client][url]") {
    CHECK(encode_target("/a-b_c.d~e/f?g=h&i=j") == "/a-b_c.d~e/f?g=h&i=j");
    CHECK(encode_target("/a b") == "/a%20b");
    CHECK(encode_target("/\xc3\xa9") == "/%C3%A9");
    CHECK(encode_target("/%2F%") == "/%2F%25");
    CHECK(encode_target("/\"<>\\^`{|}") == "/%22%3C%3E%5C%5E%60%7B%7C%7D");
}
