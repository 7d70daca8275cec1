#pragma once
// The open connections of the upload listeners, and whether the daemon is draining. On SIGTERM
// the drain reaches every connection through this list (idle ones close at once, the others
// when their request ends or when shutdown_timeout_s cuts them). A connection adds itself when
// it starts and removes itself when it is destroyed: a mutex per connection, never per request.

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

namespace bitsd::server {

class http_connection;

class connection_registry {
public:
    using entry = std::list<std::weak_ptr<http_connection>>::iterator;

    entry add(std::weak_ptr<http_connection> connection);
    void remove(entry e);
    std::size_t size() const;
    // The connections alive now (each one still has to be reached on its own io_context).
    std::vector<std::shared_ptr<http_connection>> connections() const;

    // Set once, on the first SIGTERM/SIGINT: requests that end close their connection, and
    // a connection waiting for its next request closes. Readable from any thread (the admin
    // listener's /readyz reads it through daemon::draining()).
    void start_draining() noexcept { draining_.store(true, std::memory_order_release); }
    bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }

private:
    mutable std::mutex mutex_;
    std::list<std::weak_ptr<http_connection>> connections_;
    std::atomic<bool> draining_{false};
};

}  // namespace bitsd::server
