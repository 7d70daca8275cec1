#include "server/listener_check.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>

namespace bitsd::server {

namespace net = boost::asio;

std::optional<std::string> check_listeners(const std::vector<config::listen_endpoint>& endpoints) {
    net::io_context context;
    // All held at once, as the daemon holds them: two entries that collide (0.0.0.0:8080 and
    // 127.0.0.1:8080) fail here as they would at start-up.
    std::vector<net::ip::tcp::acceptor> held;
    held.reserve(endpoints.size());
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        const auto& endpoint = endpoints[i];
        const std::string name =
            "listen[" + std::to_string(i) + "] " + config::to_string(endpoint) + ": ";
        boost::system::error_code ec;
        const auto address = net::ip::make_address(endpoint.host, ec);
        if (ec) return name + "bad address";
        net::ip::tcp::acceptor acceptor(context);
        const net::ip::tcp::endpoint where(address, endpoint.port);
        acceptor.open(where.protocol(), ec);
        if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec && address.is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
        if (!ec) acceptor.bind(where, ec);
        if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (ec) return name + ec.message();
        held.push_back(std::move(acceptor));
    }
    return std::nullopt;  // the acceptors close here
}

}  // namespace bitsd::server
