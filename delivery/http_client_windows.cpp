// Windows counterpart of http_client.cpp: its HTTPS side needs OpenSSL, which the Windows build
// does not have, and there is no delivery to carry (refused at config time). See
// unavailable_windows.hpp.
#include "delivery/http_client.hpp"

#include "delivery/unavailable_windows.hpp"

#include <exception>

namespace bitsd::delivery {

http_request http_request::post_of(const protocol::notification_request&) {
    unavailable_on_windows("the delivery's HTTP client");
}

// Constructing one is harmless (the daemon's outbox always holds one, idle without a notifying
// prefix); only sending would need OpenSSL.
http_client::http_client(boost::asio::io_context&, http_client_options) {}
http_client::~http_client() = default;

void http_client::post(http_request, http_handler) { unavailable_on_windows("the delivery's HTTP client"); }
void http_client::stop() {}
boost::asio::io_context& http_client::context() const noexcept { std::terminate(); }
std::size_t http_client::idle_connections() const { return 0; }

std::optional<protocol::backend_transport> classify_transport(const std::error_code&) {
    unavailable_on_windows("the delivery's HTTP client");
}

}  // namespace bitsd::delivery
