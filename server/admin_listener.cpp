#include "server/admin_listener.hpp"

#include "server/admin_connection.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <spdlog/spdlog.h>

namespace bitsd::server {

namespace net = boost::asio;

admin_listener::admin_listener(net::io_context& context, const net::ip::tcp::endpoint& endpoint,
                               storage::session_store& store, blocking_pool& blocking, std::string version,
                               std::vector<std::string> allowed_hosts)
    : acceptor_(context), store_(store), blocking_(blocking), version_(std::move(version)),
      hosts_{endpoint.address(), std::move(allowed_hosts)} {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    if (endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
}

net::ip::tcp::endpoint admin_listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void admin_listener::run() { do_accept(); }

void admin_listener::stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
    });
}

void admin_listener::do_accept() {
    acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, net::ip::tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (!ec) {
            std::make_shared<admin_connection>(std::move(socket), self)->run();
        } else {
            spdlog::debug("admin listener: accept failed: {}", ec.message());
        }
        self->do_accept();
    });
}

admin_listener::listing admin_listener::sessions() {
    std::lock_guard<std::mutex> lock(listing_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (listing_ && now - listed_at_ < std::chrono::seconds(1)) return listing_;
    auto fresh = std::make_shared<std::vector<storage::session_info>>();
    if (const auto ec = store_.list([&](const storage::session_info& info) { fresh->push_back(info); })) {
        spdlog::warn("admin listener: some sessions could not be read: {}", ec.message());
    }
    listing_ = std::move(fresh);
    listed_at_ = now;
    return listing_;
}

}  // namespace bitsd::server
