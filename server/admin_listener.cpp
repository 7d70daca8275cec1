#include "server/admin_listener.hpp"

#include "server/admin_connection.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

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
    const auto local = acceptor_.local_endpoint();
    const auto address = local.address();
    pause_.emplace(acceptor_.get_executor(), "admin " +
                                                 (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) +
                                                 ":" + std::to_string(local.port()));
}

net::ip::tcp::endpoint admin_listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void admin_listener::run() { do_accept(); }

void admin_listener::stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        self->pause_->cancel();
    });
}

void admin_listener::do_accept() {
    if (!acceptor_.is_open()) return;  // stopped while a pause ran out
    acceptor_.async_accept(
        [self = shared_from_this()](boost::system::error_code ec, net::ip::tcp::socket socket) {
            self->on_accept(ec, std::move(socket));
        });
}

void admin_listener::on_accept(boost::system::error_code ec, net::ip::tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec && ec != net::error::connection_aborted) {
        // Out of file descriptors and the like: see accept_pause.
        return pause_->pause(ec, [self = shared_from_this()] { self->do_accept(); });
    }
    if (!ec) {
        pause_->accepted();
        if (admit()) {
            auto connection = std::make_shared<admin_connection>(std::move(socket), shared_from_this());
            open_.push_back(connection);
            connection->run();
        } else {
            boost::system::error_code ignored;
            socket.close(ignored);
        }
    }
    do_accept();
}

bool admin_listener::admit() {
    open_.erase(std::remove_if(open_.begin(), open_.end(), [](const auto& c) { return c.expired(); }), open_.end());
    const auto max = max_connections_.load();
    if (open_.size() < max) return true;
    // Closed at once, before a byte is read: a flood costs a descriptor for an instant.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_warning_ >= std::chrono::seconds(10)) {
        spdlog::warn("admin connection refused: limits.max_admin_connections ({}) are open", max);
        last_refusal_warning_ = now;
    }
    return false;
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
