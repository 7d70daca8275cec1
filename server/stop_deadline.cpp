#include "server/stop_deadline.hpp"

#include <utility>

namespace bitsd::server {

stop_deadline::~stop_deadline() { disarm(); }

void stop_deadline::arm(std::chrono::steady_clock::time_point at, std::function<void()> overrun) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (watcher_.joinable() || done_) return;
    watcher_ = std::thread([this, at, overrun = std::move(overrun)] {
        {
            std::unique_lock<std::mutex> wait_lock(mutex_);
            if (done_changed_.wait_until(wait_lock, at, [this] { return done_; })) return;
        }
        overrun();
    });
}

void stop_deadline::disarm() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
    }
    done_changed_.notify_all();
    if (watcher_.joinable() && watcher_.get_id() != std::this_thread::get_id()) watcher_.join();
}

}  // namespace bitsd::server
