#pragma once
// One request at a time per session: an in-process lock table with asynchronous waiters, so a
// connection never blocks a thread while another request of the same session is in flight.
// Kept apart from the store core (a store shared by several nodes will bring its own lock).

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bitsd::storage {

class session_locks {
public:
    using granted_handler = std::function<void()>;

    // Calls on_granted once the caller holds the lock for `id`: at once, on this thread, if it
    // is free; otherwise later, on the thread that calls unlock(). Ids compare case-insensitively.
    void lock(std::string_view id, granted_handler on_granted);

    // Takes the lock only if it is free; never waits. For background work (the expiry sweep)
    // that should leave a session alone while a request is using it.
    bool try_lock(std::string_view id);

    // Releases the lock; the next waiter, if any, is granted it.
    void unlock(std::string_view id);

    // For stopping: drops every waiter without granting it (their handlers are destroyed,
    // outside the table's mutex) and makes later lock()/unlock() calls grant nothing.
    void shutdown();

    // Number of ids currently locked (for tests and metrics).
    std::size_t locked_count() const;

private:
    struct entry {
        std::deque<granted_handler> waiters;
    };
    mutable std::mutex mutex_;
    bool shut_down_ = false;
    std::unordered_map<std::string, entry> locked_;
};

}  // namespace bitsd::storage
