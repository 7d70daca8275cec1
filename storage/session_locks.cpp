#include "storage/session_locks.hpp"

#include "storage/session_id.hpp"

#include <algorithm>
#include <utility>

namespace bitsd::storage {

session_locks::ticket session_locks::lock(std::string_view id, granted_handler on_granted) {
    std::string key = ascii_upper(id);
    {
        const std::lock_guard<std::mutex> guard(mutex_);
        if (shut_down_) return 0;  // on_granted is destroyed, never called
        const auto it = locked_.find(key);
        if (it != locked_.end()) {
            const ticket t = next_ticket_++;
            it->second.waiters.push_back(waiter{t, std::move(on_granted)});
            return t;
        }
        locked_.emplace(std::move(key), entry{});
    }
    // Outside the mutex: the handler may lock or unlock other ids (or this one) itself.
    on_granted();
    return 0;
}

bool session_locks::withdraw(std::string_view id, ticket t) {
    granted_handler dropped;
    {
        const std::lock_guard<std::mutex> guard(mutex_);
        const auto it = locked_.find(ascii_upper(id));
        if (it == locked_.end()) return false;
        auto& waiters = it->second.waiters;
        const auto w = std::find_if(waiters.begin(), waiters.end(),
                                    [t](const waiter& x) { return x.id == t; });
        if (w == waiters.end()) return false;
        dropped = std::move(w->on_granted);
        waiters.erase(w);
    }
    // `dropped` dies here, outside the mutex (its owner's destructor may call unlock()).
    return true;
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
        next = std::move(it->second.waiters.front().on_granted);
        it->second.waiters.pop_front();
    }
    next();
}

std::size_t session_locks::locked_count() const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return locked_.size();
}

}  // namespace bitsd::storage
