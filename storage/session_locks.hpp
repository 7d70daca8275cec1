#pragma once
// One request at a time per session: an in-process lock table with asynchronous waiters, so a
// connection never blocks a thread while another request of the same session is in flight.
// Kept apart from the store core (a store shared by several nodes will bring its own lock).

#include <cstdint>
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
    // Names one queued waiter, so it can leave the queue (withdraw). 0 = granted at once.
    using ticket = std::uint64_t;

    // Calls on_granted once the caller holds the lock for `id`: at once, on this thread, if it
    // is free (returns 0); otherwise later, on the thread that calls unlock() (returns the
    // waiter's ticket). Ids compare case-insensitively.
    ticket lock(std::string_view id, granted_handler on_granted);

    // A waiter gives up its place (its client left, or its deadline passed): its handler is
    // destroyed, outside the table's mutex, and never called. False when it is no longer
    // queued: it was granted (its handler runs or ran) or dropped by shutdown().
    bool withdraw(std::string_view id, ticket waiter);

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
    struct waiter {
        ticket id;
        granted_handler on_granted;
    };
    struct entry {
        std::deque<waiter> waiters;
    };
    mutable std::mutex mutex_;
    bool shut_down_ = false;
    ticket next_ticket_ = 1;
    std::unordered_map<std::string, entry> locked_;
};

}  // namespace bitsd::storage
