// http_connection's part in the drain on SIGTERM/SIGINT (see daemon and drain_controller):
// kept apart from the request path in http_connection.cpp.

#include "server/http_connection.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <string>

namespace bitsd::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

}  // namespace

void http_connection::drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->on_drain(); });
}

void http_connection::cut() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->on_cut(); });
}

void http_connection::on_drain() {
    // Waiting for a next request that has not begun: nothing is lost by closing now. Anything
    // else is a request in flight; it closes the connection once answered (do_write). A
    // request whose bytes are already in the socket (sent before the signal, not yet read)
    // counts as in flight: it is served.
    if (phase_ != phase::header || header_started_) return;
    beast::error_code ec;
    if (stream_.socket().available(ec) > 0 && !ec) return;
    close();
}

void http_connection::on_cut() {
    if (phase_ == phase::closed) return;
    beast::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    std::string peer = "?";
    if (!ec) {
        const auto address = endpoint.address();
        peer = (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
               std::to_string(endpoint.port());
    }
    const std::string session = echo_session_id_.value_or("-");
    beast::error_code ignored;
    switch (phase_) {
    case phase::header:
        if (header_started_) spdlog::warn("shutdown: cut {}: its request header was still arriving", peer);
        return close();
    case phase::linger:
        return close();  // answered already
    case phase::auth:
        return close();  // its password check is skipped; nothing was read or stored
    case phase::body:
        if (after_body_ == after_body::finish_fragment) {
            spdlog::warn("shutdown: cut session {} from {}: fragment body incomplete ({} bytes "
                         "received, {} missing); what arrived is kept, the client resumes from it",
                         session, peer, body_read_, body_left_);
        } else {
            spdlog::warn("shutdown: cut {}: a rejected request's body was being read", peer);
        }
        // As for a client that drops the connection: what was written is flushed and kept.
        return on_body_lost("shutdown");
    case phase::lock:
        spdlog::warn("shutdown: cut session {} from {}: it was waiting for its session", session, peer);
        if (service_->locks().withdraw(locked_session_, lock_ticket_)) {
            locked_session_.clear();
            lock_ticket_ = 0;
            return close();
        }
        // The lock is being granted: on_session_locked comes next, finds the connection
        // closed and gives the lock back (so locked_session_ stays).
        phase_ = phase::closed;
        disarm_timer();
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        return;
    case phase::commit:
        if (commit_) {
            // As after busy_timeout_s: the commit goes on (a commit is never cut halfway) and
            // keeps the session's lock until it ends; the client's retried Close finds it done.
            spdlog::warn("shutdown: cut session {} from {}: its Close-Session was not answered; "
                         "the commit completes", session, peer);
            commit_->detached = true;
            if (lock_held_) commit_->lock = std::move(locked_session_);
            locked_session_.clear();
            lock_held_ = false;
            commit_.reset();
        }
        return close();
    case phase::blocking:
    case phase::write:
        // Disk work of the request (or its answer) is under way and owns the session: it
        // completes, then finds the connection shut and closes it.
        spdlog::warn("shutdown: cut session {} from {}: {}", session, peer,
                     phase_ == phase::write ? "its answer was not fully sent" : "left while its disk work completes");
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        return;
    case phase::closed:
        return;
    }
}

}  // namespace bitsd::server
