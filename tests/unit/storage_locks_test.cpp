// session_locks: one holder per id, FIFO waiters, granted on the unlocking thread.

#include "storage/session_locks.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cctype>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using bitsd::storage::session_locks;

namespace {
const std::string id_a = "{0123ABCD-0000-4000-8000-00000000000A}";
const std::string id_b = "{0123ABCD-0000-4000-8000-00000000000B}";
}  // namespace

TEST_CASE("locks: a free id is granted at once, on the calling thread", "[storage]") {
    session_locks locks;
    bool granted = false;
    std::thread::id where;
    locks.lock(id_a, [&] {
        granted = true;
        where = std::this_thread::get_id();
    });
    CHECK(granted);
    CHECK(where == std::this_thread::get_id());
    CHECK(locks.locked_count() == 1);
    locks.unlock(id_a);
    CHECK(locks.locked_count() == 0);  // free entries are erased
}

TEST_CASE("locks: a second request waits until the first unlocks", "[storage]") {
    session_locks locks;
    std::vector<int> order;
    locks.lock(id_a, [&] { order.push_back(1); });
    locks.lock(id_a, [&] { order.push_back(2); });
    CHECK(order == std::vector<int>{1});
    CHECK(locks.locked_count() == 1);
    locks.unlock(id_a);
    CHECK(order == std::vector<int>{1, 2});  // granted inside unlock()
    CHECK(locks.locked_count() == 1);        // now held by the second
    locks.unlock(id_a);
    CHECK(locks.locked_count() == 0);
}

TEST_CASE("locks: waiters are granted in FIFO order, and no newcomer overtakes them", "[storage]") {
    session_locks locks;
    std::vector<int> order;
    locks.lock(id_a, [&] { order.push_back(0); });
    for (int i = 1; i <= 4; ++i) locks.lock(id_a, [&order, i] { order.push_back(i); });
    locks.unlock(id_a);
    locks.lock(id_a, [&] { order.push_back(99); });  // arrives while 1 holds it
    for (int i = 0; i < 5; ++i) locks.unlock(id_a);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 99});
    CHECK(locks.locked_count() == 0);
}

TEST_CASE("locks: different ids are independent, equal ids match in any case", "[storage]") {
    session_locks locks;
    int granted = 0;
    locks.lock(id_a, [&] { ++granted; });
    locks.lock(id_b, [&] { ++granted; });
    CHECK(granted == 2);
    CHECK(locks.locked_count() == 2);

    std::string lower = id_a;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    locks.lock(lower, [&] { ++granted; });
    CHECK(granted == 2);  // same session as id_a: waits
    locks.unlock(id_b);
    CHECK(granted == 2);
    locks.unlock(lower);  // releases id_a's holder, whatever the case
    CHECK(granted == 3);
    locks.unlock(id_a);
    CHECK(locks.locked_count() == 0);
}

TEST_CASE("locks: handlers may lock and unlock from inside a grant", "[storage]") {
    session_locks locks;
    std::vector<std::string> events;
    locks.lock(id_a, [&] {
        events.push_back("a1");
        locks.lock(id_b, [&] { events.push_back("b1"); });  // other id, no deadlock
        locks.unlock(id_b);
    });
    locks.lock(id_a, [&] {
        events.push_back("a2");
        locks.unlock(id_a);  // releases at once, inside its own grant
    });
    locks.unlock(id_a);
    CHECK(events == std::vector<std::string>{"a1", "b1", "a2"});
    CHECK(locks.locked_count() == 0);
}

TEST_CASE("locks: one holder at a time across threads", "[storage]") {
    session_locks locks;
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    int counter = 0;  // protected by the session lock alone
    const int threads = 4, rounds = 2000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < rounds; ++i) {
                std::promise<void> granted;
                locks.lock(id_a, [&] { granted.set_value(); });
                granted.get_future().wait();
                if (inside.fetch_add(1) != 0) ++overlaps;
                ++counter;
                inside.fetch_sub(1);
                locks.unlock(id_a);
            }
        });
    }
    for (auto& worker : workers) worker.join();
    CHECK(overlaps == 0);
    CHECK(counter == threads * rounds);
    CHECK(locks.locked_count() == 0);
}

TEST_CASE("locks: try_lock takes a free id and never waits for a held one", "[storage]") {
    session_locks locks;
    CHECK(locks.try_lock(id_a));
    CHECK_FALSE(locks.try_lock(id_a));
    CHECK_FALSE(locks.try_lock("{0123abcd-0000-4000-8000-00000000000a}"));  // any case
    bool granted = false;
    locks.lock(id_a, [&] { granted = true; });
    CHECK_FALSE(granted);  // try_lock's hold is a real hold
    locks.unlock(id_a);
    CHECK(granted);
    CHECK(locks.try_lock(id_b));
    locks.unlock(id_b);
    locks.unlock(id_a);
    CHECK(locks.locked_count() == 0);
}

namespace {
// Calls unlock() from its destructor, as a connection destroyed while waiting would.
struct unlock_on_destroy {
    session_locks* locks;
    std::string id;
    ~unlock_on_destroy() { locks->unlock(id); }
};
}  // namespace

TEST_CASE("locks: shutdown drops waiters without granting them", "[storage]") {
    session_locks locks;
    int granted = 0;
    locks.lock(id_a, [&] { ++granted; });
    std::shared_ptr<unlock_on_destroy> owner(new unlock_on_destroy{&locks, id_a});  // no temporary
    std::weak_ptr<unlock_on_destroy> watch = owner;
    locks.lock(id_a, [&, owner] { ++granted; });
    owner.reset();
    REQUIRE(granted == 1);
    REQUIRE_FALSE(watch.expired());  // the waiter's handler keeps it alive

    locks.shutdown();  // destroys the waiter; its unlock() from inside must neither deadlock nor grant
    CHECK(watch.expired());
    CHECK(granted == 1);
    CHECK(locks.locked_count() == 0);

    locks.lock(id_b, [&] { ++granted; });  // after shutdown nothing is granted any more
    CHECK(granted == 1);
    CHECK_FALSE(locks.try_lock(id_b));
    locks.unlock(id_a);  // harmless
}

TEST_CASE("locks: a withdrawn waiter is never granted and its handler is released", "[storage]") {
    session_locks locks;
    std::vector<int> order;
    CHECK(locks.lock(id_a, [&] { order.push_back(1); }) == 0);  // granted at once
    auto owned = std::make_shared<int>(7);
    const auto second = locks.lock(id_a, [&, owned] { order.push_back(2); });
    const auto third = locks.lock(id_a, [&] { order.push_back(3); });
    CHECK(second != 0);
    CHECK(third != 0);
    CHECK(owned.use_count() == 2);
    CHECK(locks.withdraw(id_a, second));
    CHECK(owned.use_count() == 1);          // the handler (and what it owned) is gone
    CHECK_FALSE(locks.withdraw(id_a, second));  // only once
    locks.unlock(id_a);
    CHECK(order == std::vector<int>{1, 3});
    CHECK_FALSE(locks.withdraw(id_a, third));  // granted: no longer a waiter
    locks.unlock(id_a);
    CHECK(locks.locked_count() == 0);
    CHECK_FALSE(locks.withdraw(id_b, 12345));
}
