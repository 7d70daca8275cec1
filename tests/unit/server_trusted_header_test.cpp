// authenticator (issue 9, authentication): trusted-header from trusted proxies only. Apart from
// the Basic cases (server_authenticator_test.cpp) because it runs in the Windows build too, which
// has no libxcrypt for Basic but offers trusted-header behind a proxy.

#include "server/authenticator.hpp"

#include <catch2/catch.hpp>

#include <string>

using bitsd::server::auth_verdict;
using bitsd::server::authenticator;
namespace cfg = bitsd::config;

TEST_CASE("authenticator: trusted-header only from trusted proxies", "[server][auth]") {
    cfg::auth_settings s;
    s.type = cfg::auth_type::trusted_header;
    s.header = "X-Remote-User";
    s.trusted_proxies = {"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"};
    const authenticator auth(s, "k");
    using boost::asio::ip::make_address;
    CHECK(auth.user_header_name() == "X-Remote-User");
    const auto v = auth.check(std::nullopt, std::string_view("carol"), make_address("10.1.2.3"));
    CHECK(v.result == auth_verdict::kind::allowed);
    CHECK(v.principal == "user:carol");
    CHECK(auth.check(std::nullopt, std::string_view("carol"), make_address("192.0.2.7")).result ==
          auth_verdict::kind::allowed);
    CHECK(auth.check(std::nullopt, std::string_view("carol"), make_address("2001:db8:5::1")).result ==
          auth_verdict::kind::allowed);
    CHECK(auth.check(std::nullopt, std::string_view("carol"), make_address("::ffff:10.9.9.9")).result ==
          auth_verdict::kind::allowed);
    for (const char* outsider : {"11.0.0.1", "192.0.2.8", "2001:db9::1", "127.0.0.1"}) {
        CAPTURE(outsider);
        CHECK(auth.check(std::nullopt, std::string_view("carol"), make_address(outsider)).result ==
              auth_verdict::kind::forbidden);
    }
    CHECK(auth.check(std::nullopt, std::nullopt, make_address("10.1.2.3")).result == auth_verdict::kind::forbidden);
    CHECK(auth.check(std::nullopt, std::string_view("  "), make_address("10.1.2.3")).result ==
          auth_verdict::kind::forbidden);
}
