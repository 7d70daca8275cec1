#pragma once
// Accepts connections on one endpoint and hands each to its own http_connection.

#include "server/accept_pause.hpp"
#include "server/http_connection.hpp"
#include "server/io_context_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace bitsd::server {

class tls_context_slot;  // server/tls/tls_context.hpp

class listener : public std::enable_shared_from_this<listener> {
public:
    // Binds and listens at once; throws boost::system::system_error on failure (start-up only).
    // Accepts on the pool's main context and hands each connection to the next context.
    // `tls`: a TLS listener's context slot (null: plain HTTP); read once per connection.
    listener(io_context_pool& pool, const boost::asio::ip::tcp::endpoint& endpoint,
             connection_shared shared, std::shared_ptr<tls_context_slot> tls = nullptr);

    boost::asio::ip::tcp::endpoint local_endpoint() const;
    bool is_tls() const noexcept { return tls_ != nullptr; }
    void run();
    void stop();

private:
    void do_accept();
    void on_accept(boost::beast::error_code ec, http_connection::socket_type socket);

    io_context_pool& pool_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::optional<accept_pause> pause_;  // made once the port is known (it names it)
    connection_shared shared_;
    std::shared_ptr<tls_context_slot> tls_;
    std::chrono::steady_clock::time_point last_refusal_warning_{};  // connections over the limits
};

}  // namespace bitsd::server
