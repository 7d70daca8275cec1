#include "server/credential_cache.hpp"

#include <algorithm>
#include <cstring>

namespace bitsd::server {

std::size_t credential_cache::key_hash::operator()(const credential_key& key) const noexcept {
    // The key is already an HMAC: any of its bytes are as good as a hash.
    std::size_t out = 0;
    std::memcpy(&out, key.data(), sizeof out);
    return out;
}

credential_cache::credential_cache(std::chrono::seconds lifetime, std::size_t capacity)
    : lifetime_(lifetime), capacity_(std::max<std::size_t>(capacity, 1)) {}

std::optional<std::string> credential_cache::find(const credential_key& key, clock::time_point now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
    return it->second.principal;
}

void credential_cache::remember(const credential_key& key, std::string principal, clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) make_room(now);
    entries_[key] = entry{std::move(principal), now + lifetime_};
}

void credential_cache::make_room(clock::time_point now) {
    if (entries_.size() < capacity_) return;
    // Full: drop what expired; if nothing did, the entry closest to expiry. A scan, but only
    // after a successful hash check, which costs far more.
    for (auto it = entries_.begin(); it != entries_.end();) {
        it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() < capacity_) return;
    entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.expires < b.second.expires;
    }));
}

void credential_cache::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.clear();
}

std::size_t credential_cache::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

}  // namespace bitsd::server
