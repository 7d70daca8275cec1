#include "server/auth_failure_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace bitsd::server {

void auth_failure_limiter::refill(bucket& b, double capacity, clock::time_point now) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    if (elapsed > 0) b.tokens = std::min(capacity, b.tokens + elapsed * capacity / 60.0);
    b.updated = std::max(b.updated, now);
}

void auth_failure_limiter::forget_full(std::uint64_t per_minute, clock::time_point now) {
    if (now < next_sweep_) return;
    next_sweep_ = now + std::chrono::minutes(1);
    const double capacity = static_cast<double>(per_minute);
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        refill(it->second, capacity, now);
        it = it->second.tokens >= capacity ? buckets_.erase(it) : std::next(it);
    }
}

std::optional<std::chrono::seconds> auth_failure_limiter::before_check(const std::string& client,
                                                                       std::uint64_t per_minute,
                                                                       clock::time_point now) {
    if (per_minute == 0) return std::nullopt;
    const double capacity = static_cast<double>(per_minute);
    std::lock_guard<std::mutex> lock(mutex_);
    forget_full(per_minute, now);
    auto it = buckets_.find(client);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_clients) return std::chrono::seconds(60);
        it = buckets_.emplace(client, bucket{capacity, now}).first;
    }
    auto& b = it->second;
    refill(b, capacity, now);
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return std::nullopt;
    }
    const double wait = (1.0 - b.tokens) * 60.0 / capacity;
    return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait))));
}

void auth_failure_limiter::check_succeeded(const std::string& client, std::uint64_t per_minute,
                                           clock::time_point now) {
    if (per_minute == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = buckets_.find(client);
    if (it == buckets_.end()) return;
    const double capacity = static_cast<double>(per_minute);
    refill(it->second, capacity, now);
    it->second.tokens = std::min(capacity, it->second.tokens + 1.0);
}

std::size_t auth_failure_limiter::clients() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return buckets_.size();
}

}  // namespace bitsd::server
