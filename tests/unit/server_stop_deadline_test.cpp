// stop_deadline: the overrun action runs once the deadline passes without disarm(), and never
// after disarm().

#include "server/stop_deadline.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using bitsd::server::stop_deadline;
using namespace std::chrono_literals;

TEST_CASE("stop_deadline: the overrun runs at the deadline when the stop did not finish", "[server][stop_deadline]") {
    std::atomic<bool> overran{false};
    stop_deadline deadline;
    const auto armed = std::chrono::steady_clock::now();
    deadline.arm(armed + 50ms, [&] { overran = true; });
    deadline.arm(armed + 1ms, [] { FAIL("a second arm() replaced the first"); });
    while (!overran && std::chrono::steady_clock::now() - armed < 5s) std::this_thread::sleep_for(5ms);
    CHECK(overran);
    CHECK(std::chrono::steady_clock::now() - armed >= 50ms);
}

TEST_CASE("stop_deadline: a disarmed deadline never runs its overrun", "[server][stop_deadline]") {
    std::atomic<bool> overran{false};
    {
        stop_deadline deadline;
        deadline.arm(std::chrono::steady_clock::now() + 100ms, [&] { overran = true; });
        deadline.disarm();
        std::this_thread::sleep_for(200ms);
    }
    CHECK_FALSE(overran);
}
