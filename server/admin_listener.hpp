#pragma once
// The admin listener (admin_listen, default 127.0.0.1:9090): /healthz, /readyz, /metrics,
// /api/sessions, /api/recent and the status page at /. Separate from the upload listeners so
// that it can stay on loopback (it shows session ids and paths) and never competes with BITS
// traffic for a port or a rule. It accepts on the main I/O context; the store listing behind
// /metrics and /api/sessions runs on the blocking pool's admin thread (never the threads
// uploads wait for), cached for a second so a status page refreshing every second and a
// Prometheus scrape share one walk of the store. A request whose Host is not the listener's
// address or an allowed name is refused (DNS rebinding).

#include "server/accept_pause.hpp"
#include "server/admin_api.hpp"
#include "server/blocking_pool.hpp"
#include "storage/session_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bitsd::server {

class admin_connection;

class admin_listener : public std::enable_shared_from_this<admin_listener> {
public:
    using listing = std::shared_ptr<const std::vector<storage::session_info>>;

    // Binds and listens at once; throws boost::system::system_error on failure (start-up only).
    // `allowed_hosts`: admin_allowed_hosts, the names answered besides the listener's address.
    admin_listener(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& endpoint,
                   storage::session_store& store, blocking_pool& blocking, std::string version,
                   std::vector<std::string> allowed_hosts = {});

    boost::asio::ip::tcp::endpoint local_endpoint() const;
    void run();
    void stop();
    // limits.max_admin_connections: beyond it a new connection is closed at once. Any thread.
    void set_max_connections(std::uint64_t max) noexcept { max_connections_.store(max); }

    // Every session in the store, at most a second old. Blocks on the disk: call it on the
    // blocking pool only.
    listing sessions();
    blocking_pool& blocking() noexcept { return blocking_; }
    const std::string& version() const noexcept { return version_; }
    const admin_hosts& hosts() const noexcept { return hosts_; }

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
    bool admit();

    boost::asio::ip::tcp::acceptor acceptor_;
    std::optional<accept_pause> pause_;  // made once the port is known (it names it)
    // The open connections (on the acceptor's context only): expired entries are the closed
    // ones, dropped at the next accept, so a connection needs no hook to be counted out.
    std::vector<std::weak_ptr<admin_connection>> open_;
    std::atomic<std::uint64_t> max_connections_{64};
    std::chrono::steady_clock::time_point last_refusal_warning_{};
    storage::session_store& store_;
    blocking_pool& blocking_;
    std::string version_;
    admin_hosts hosts_;
    std::mutex listing_mutex_;  // one walk at a time; the others wait and share its result
    listing listing_;
    std::chrono::steady_clock::time_point listed_at_{};
};

}  // namespace bitsd::server
