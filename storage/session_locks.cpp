#include "storage/session_locks.hpp"

#include "storage/session_id.hpp"

#include <utility>

namespace bitsd::storage {

void session_locks::lock(std::string_view id, granted_handler on_granted) {
    std::string key = ascii_upper(id);
    {
        const std::lock_guard<std::mutex> guard(mutex_);
        if (shut_down_) return;  // on_granted is destroyed, never called
        const auto it = locked_.find(key);
        if (it != locked_.end()) {
            it->second.waiters.push_back(std::move(on_granted));
            return;
        }
        locked_.emplace(std::move(key), entry{});
    }
    // Outside the mutex: the handler may lock or unlock other ids (or this one) itself.
    on_granted();
}

bool session_locks::try_lock(std::string_view id) {
    const std::lock_guard<std::mutex> guard(mutex_);
    if (shut_down_) return false;
    return locked_.emplace(ascii_upper(id), entry{}).second;
}

void session_locks::shutdown() {
    std::unordered_map<std::string, entry> dropped;
    {
        const std::lock_guard<std::mutex> guard(mutex_);
        shut_down_ = true;
        dropped.swap(locked_);
    }
    // `dropped` dies here, outside the mutex: a waiter's handler may own an object whose
    // destructor calls unlock(), which must not deadlock (and now grants nothing).
}

void session_locks::unlock(std::string_view id) {
    granted_handler next;
    {
        const std::lock_guard<std::mutex> guard(mutex_);
        const auto it = locked_.find(ascii_upper(id));
        if (it == locked_.end()) return;  // not locked (or shut down): nothing to release
        if (it->second.waiters.empty()) {
            locked_.erase(it);  // free ids take no memory
            return;
        }
        // The lock passes straight to the next waiter; the entry stays, so no newcomer can
        // slip in between and break the FIFO order.
        next = std::move(it->second.waiters.front());
        it->second.waiters.pop_front();
    }
    next();
}

std::size_t session_locks::locked_count() const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return locked_.size();
}

}  // namespace bitsd::storage
