#include "server/live_service.hpp"

#include <utility>

namespace bitsd::server {
namespace {

std::atomic<std::uint64_t> next_instance{1};

struct thread_cache {
    std::uint64_t instance = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<upload_service> service;
};

thread_cache& cache() {
    thread_local thread_cache c;
    return c;
}

}  // namespace

live_service::live_service(std::shared_ptr<upload_service> first)
    : instance_(next_instance.fetch_add(1)), current_(std::move(first)) {}

std::shared_ptr<upload_service> live_service::current() const {
    auto& c = cache();
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (c.instance == instance_ && c.generation == generation) return c.service;
    std::lock_guard<std::mutex> guard(mutex_);
    c.instance = instance_;
    // Read under the mutex: replace() changes both under it, so they belong together.
    c.generation = generation_.load(std::memory_order_relaxed);
    c.service = current_;
    return c.service;
}

void live_service::replace(std::shared_ptr<upload_service> next) {
    std::shared_ptr<upload_service> previous;
    {
        std::lock_guard<std::mutex> guard(mutex_);
        previous = std::exchange(current_, std::move(next));
        generation_.fetch_add(1, std::memory_order_release);
    }
    // `previous` dies here unless requests still hold it; they finish with it.
}

}  // namespace bitsd::server
