#pragma once
// Whether the daemon wants new work, for /readyz on the admin listener and GET / on the upload
// listeners: ready once the store is open and every listener accepts; not ready again once it
// drains (SIGTERM: the drain calls start_draining()). Process-wide, like the metrics: the
// signal handling that flips it and the listeners that read it share nothing else.

#include <atomic>

namespace bitsd::server {

class readiness {
public:
    static readiness& global() noexcept;

    void set_ready() noexcept { ready_.store(true, std::memory_order_release); }
    void start_draining() noexcept { draining_.store(true, std::memory_order_release); }

    bool ready() const noexcept {
        return ready_.load(std::memory_order_acquire) && !draining_.load(std::memory_order_acquire);
    }
    bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }

private:
    std::atomic<bool> ready_{false};
    std::atomic<bool> draining_{false};
};

}  // namespace bitsd::server
