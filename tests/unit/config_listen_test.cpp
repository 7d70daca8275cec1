// "host:port" parsing for listen endpoints, shared by the config file and --listen.

#include "config/config.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace cfg = bitsd::config;

TEST_CASE("listen endpoints parse IPv4 and bracketed IPv6", "[config]") {
    struct row {
        const char* text;
        const char* host;
        std::uint16_t port;
    };
    const row rows[] = {
        {"0.0.0.0:8080", "0.0.0.0", 8080},
        {"127.0.0.1:0", "127.0.0.1", 0},
        {"10.1.2.3:65535", "10.1.2.3", 65535},
        {"[::1]:8080", "::1", 8080},
        {"[::]:443", "::", 443},
        {"[2001:db8::42]:1", "2001:db8::42", 1},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        std::string why;
        const auto endpoint = cfg::parse_listen(r.text, why);
        REQUIRE(endpoint);
        CHECK(why.empty());
        CHECK(endpoint->host == r.host);
        CHECK(endpoint->port == r.port);
        CHECK(cfg::to_string(*endpoint) == r.text);
    }
}

TEST_CASE("malformed listen endpoints are refused with a reason", "[config]") {
    struct row {
        const char* text;
        const char* reason_part;  // a word the reason must contain
    };
    const row rows[] = {
        {"nohost:80", "not an IP address"},
        {"localhost:80", "not an IP address"},
        {"1.2.3.4", "missing \":port\""},
        {"1.2.3.4:", "port"},
        {"1.2.3.4:99999", "port \"99999\""},
        {"1.2.3.4:65536", "port"},
        {"1.2.3.4:-1", "port"},
        {"1.2.3.4:+80", "port"},
        {"1.2.3.4: 80", "port"},
        {"1.2.3.4:0x50", "port"},
        {"1.2.3:80", "not an IP address"},
        {"1.2.3.4.5:80", "not an IP address"},
        {"256.1.1.1:80", "not an IP address"},
        {"[::1:80", "missing ']'"},
        {"[::1]", "missing \":port\""},
        {"[::1]80", "missing \":port\""},
        {"[]:80", "missing address"},
        {"[1.2.3.4]:80", "not an IPv6 address"},
        {"[nohost]:80", "not an IPv6 address"},
        {"::1:80", "brackets"},
        {":80", "missing host"},
        {"", "empty"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        std::string why;
        const auto endpoint = cfg::parse_listen(r.text, why);
        CHECK_FALSE(endpoint);
        INFO(why);
        CHECK(why.find(r.reason_part) != std::string::npos);
    }
}
