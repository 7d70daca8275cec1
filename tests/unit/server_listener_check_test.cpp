// check_listeners (--check-config): binds every endpoint as the daemon would, then releases it.

#include "server/listener_check.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace cfg = bitsd::config;
namespace net = boost::asio;

TEST_CASE("check_listeners binds, releases, and names an endpoint in use", "[server][check]") {
    net::io_context context;
    net::ip::tcp::acceptor taken(context, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    const auto port = taken.local_endpoint().port();

    CHECK_FALSE(bitsd::server::check_listeners({cfg::listen_endpoint{"127.0.0.1", 0, std::nullopt}}));

    const auto error = bitsd::server::check_listeners(
        {cfg::listen_endpoint{"127.0.0.1", 0, std::nullopt}, cfg::listen_endpoint{"127.0.0.1", port, std::nullopt}});
    REQUIRE(error);
    INFO(*error);
    CHECK(error->find("listen[1] 127.0.0.1:" + std::to_string(port) + ": ") == 0);
    CHECK(error->find("in use") != std::string::npos);

    // Released: the same free port can be checked twice in a row.
    net::ip::tcp::acceptor probe(context, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    const auto free_port = probe.local_endpoint().port();
    probe.close();
    CHECK_FALSE(bitsd::server::check_listeners({cfg::listen_endpoint{"127.0.0.1", free_port, std::nullopt}}));
    CHECK_FALSE(bitsd::server::check_listeners({cfg::listen_endpoint{"127.0.0.1", free_port, std::nullopt}}));
}
