#include "server/listener.hpp"

#include "server/tls/tls_context.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <spdlog/spdlog.h>

namespace bitsd::server {

namespace net = boost::asio;
namespace beast = boost::beast;

listener::listener(io_context_pool& pool, const net::ip::tcp::endpoint& endpoint,
                   connection_shared shared, std::shared_ptr<tls_context_slot> tls)
    : pool_(pool), acceptor_(pool.main_context()), shared_(shared), tls_(std::move(tls)) {
    acceptor_.open(endpoint.protocol());
#ifdef _WIN32
    // On Windows SO_REUSEADDR lets another process bind the same port (and steal connections):
    // the port is ours alone, and a restart never waits for TIME_WAIT there anyway.
    using exclusive_address_use = net::detail::socket_option::boolean<SOL_SOCKET, SO_EXCLUSIVEADDRUSE>;
    acceptor_.set_option(exclusive_address_use(true));
#else
    acceptor_.set_option(net::socket_base::reuse_address(true));
#endif
    if (endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    const auto local = acceptor_.local_endpoint();
    const auto address = local.address();
    pause_.emplace(acceptor_.get_executor(), (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) +
                                                 ":" + std::to_string(local.port()));
}

net::ip::tcp::endpoint listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void listener::run() { do_accept(); }

void listener::stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        beast::error_code ignored;
        self->acceptor_.close(ignored);
        self->pause_->cancel();
    });
}

void listener::do_accept() {
    if (!acceptor_.is_open()) return;  // stopped while a pause ran out
    try {
        acceptor_.async_accept(pool_.next_executor(),
                               beast::bind_front_handler(&listener::on_accept, shared_from_this()));
    } catch (const boost::system::system_error& e) {
        // Starting an accept builds the new connection's socket object on its context; should
        // that ever need a descriptor there is none of, accepting pauses as for a failed accept.
        pause_->pause(e.code(), [self = shared_from_this()] { self->do_accept(); });
    }
}

void listener::on_accept(beast::error_code ec, http_connection::socket_type socket) {
    if (ec == net::error::operation_aborted) return;  // stopped
    if (ec && ec != net::error::connection_aborted) {
        // Out of file descriptors and the like: see accept_pause.
        return pause_->pause(ec, [self = shared_from_this()] { self->do_accept(); });
    }
    if (!ec) {
        pause_->accepted();
        beast::error_code ignored;
        const auto peer = socket.remote_endpoint(ignored);
        auto ticket = ignored ? connection_ticket{}
                              : shared_.services.current()->admission().admit(admission_control::client_of(peer.address()));
        if (!ticket) {
            // Over limits.max_connections or its client's share: closed at once, before a
            // byte is read, so a flood of connections costs a descriptor for an instant.
            const auto now = std::chrono::steady_clock::now();
            if (!ignored && now - last_refusal_warning_ >= std::chrono::seconds(10)) {
                spdlog::warn("connection from {} refused: connection limit reached (limits.max_connections, "
                             "limits.max_connections_per_client)", peer.address().to_string());
                last_refusal_warning_ = now;
            }
            socket.close(ignored);
        } else {
            socket.set_option(net::ip::tcp::no_delay(true), ignored);
            // A TLS listener's connection keeps the context it was accepted with (a reload
            // swaps the listener's, never an established connection's).
            std::make_shared<http_connection>(std::move(socket), shared_, std::move(ticket),
                                              tls_ ? tls_->current() : nullptr)->run();
        }
    }
    do_accept();
}

}  // namespace bitsd::server
