#pragma once
// The bound on a stop: SIGTERM ends the process within shutdown_timeout_s + 1 s whatever still
// runs. The drain (drain_controller) normally ends well inside it; what may not (disk work on
// the blocking pools, which is joined, a sync delivery waiting for its back-end, the sweep) is
// safe to abandon: nothing unacknowledged is lost, a commit cut halfway is finished at the next
// start and an abandoned delivery is re-driven then. Once armed, a thread of its own waits
// for the deadline; if disarm() has not come by then it runs the overrun action (the daemon's
// logs why and ends the process at once with std::_Exit).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace bitsd::server {

class stop_deadline {
public:
    stop_deadline() = default;
    stop_deadline(const stop_deadline&) = delete;
    stop_deadline& operator=(const stop_deadline&) = delete;
    ~stop_deadline();  // disarms

    // Once; later calls change nothing. `overrun` runs on the watcher's thread at `at`.
    void arm(std::chrono::steady_clock::time_point at, std::function<void()> overrun);
    // The stop finished in time (or never began): the thread ends, nothing happens.
    void disarm();

private:
    std::mutex mutex_;
    std::condition_variable done_changed_;
    bool done_ = false;
    std::thread watcher_;
};

}  // namespace bitsd::server
