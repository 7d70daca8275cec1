#pragma once
// The graceful stop on the first SIGTERM/SIGINT: stop accepting, close idle connections, give
// requests in flight up to shutdown_timeout_s, cut what is left (logging each cut session and
// peer), then stop the I/O. Runs on the main I/O context. A second signal does not come here:
// the daemon exits at once on it.

#include "server/connection_registry.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace bitsd::server {

class drain_controller {
public:
    // `finish` stops the I/O threads; it is called once, when the last connection is gone or
    // the cut connections had their grace.
    drain_controller(boost::asio::io_context& main, connection_registry& registry,
                     std::function<void()> finish);

    // Call after the listeners stopped accepting and the registry is draining.
    void begin(std::chrono::seconds timeout);

    // After the cut, how long the cut connections get to flush what arrived and close. Short:
    // the whole stop must end within shutdown_timeout_s + 1 s (stop_deadline), and a cut
    // connection that is not gone by then waits for something bitsd abandons anyway (a
    // back-end's answer, a disk operation).
    static constexpr std::chrono::milliseconds cut_grace{500};

private:
    using clock = std::chrono::steady_clock;
    void poll();

    connection_registry& registry_;
    std::function<void()> finish_;
    boost::asio::steady_timer timer_;
    std::chrono::seconds timeout_{0};
    clock::time_point deadline_{};
    bool cut_ = false;
    bool finished_ = false;
};

}  // namespace bitsd::server
