#pragma once
// An acceptor's pause after a failed accept. Out of file descriptors (EMFILE, ENFILE) or
// memory, the pending connection stays in the backlog, so accepting again at once fails again
// at once: a loop at full CPU. The acceptor waits instead, 100 ms at first, doubling up to 1 s
// while the failures go on; it logs a warning when a burst of failures begins (at most every
// 10 s) and a line when accepting works again, and counts every pause in /metrics
// (bitsd_accept_pauses_total). Runs on the acceptor's executor only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace bitsd::server {

class accept_pause {
public:
    // `listener`: how the log names the acceptor ("127.0.0.1:8080", "admin 127.0.0.1:9090").
    accept_pause(const boost::asio::any_io_executor& executor, std::string listener);

    // Accepting failed with `ec`: waits, then calls `resume` (never after cancel()).
    void pause(const boost::system::error_code& ec, std::function<void()> resume);
    // An accept succeeded: a burst of failures is over.
    void accepted();
    void cancel();

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds first_pause{100};
    static constexpr std::chrono::milliseconds longest_pause{1000};

    boost::asio::steady_timer timer_;
    std::string listener_;
    std::chrono::milliseconds next_{first_pause};
    std::uint64_t failures_ = 0;  // in the current burst
    clock::time_point last_warning_{};
    bool warned_ = false;  // this burst's beginning was logged
};

}  // namespace bitsd::server
