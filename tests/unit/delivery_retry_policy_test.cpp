// The async outbox's retry policy: capped exponential backoff with full jitter, and the give-up
// deadline. The random number is an argument, so every case is exact.

#include "delivery/retry_policy.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

using bitsd::delivery::retry_policy;
using bitsd::delivery::retry_settings;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

retry_policy policy(long initial, long max, long give_up) {
    return retry_policy(retry_settings{seconds(initial), seconds(max), seconds(give_up)});
}

}  // namespace

TEST_CASE("retry ceiling doubles from initial and stops at max", "[delivery][retry]") {
    const auto p = policy(1, 300, 604800);
    CHECK(p.ceiling(0) == milliseconds(1000));  // 0 counts as the first failure
    CHECK(p.ceiling(1) == milliseconds(1000));
    CHECK(p.ceiling(2) == milliseconds(2000));
    CHECK(p.ceiling(3) == milliseconds(4000));
    CHECK(p.ceiling(9) == milliseconds(256000));
    CHECK(p.ceiling(10) == milliseconds(300000));  // 512 s capped at 300 s
    CHECK(p.ceiling(1000000) == milliseconds(300000));
    CHECK(p.ceiling(std::numeric_limits<std::uint32_t>::max()) == milliseconds(300000));
}

TEST_CASE("retry ceiling with initial above max is max", "[delivery][retry]") {
    CHECK(policy(10, 2, 60).ceiling(1) == milliseconds(2000));
}

TEST_CASE("retry delay is full jitter over [0, ceiling]", "[delivery][retry]") {
    const auto p = policy(1, 2, 60);
    CHECK(p.delay(1, 0.0) == milliseconds(0));
    CHECK(p.delay(1, 0.5) == milliseconds(500));
    CHECK(p.delay(1, 0.9999999) == milliseconds(1000));  // the ceiling is reachable
    CHECK(p.delay(2, 0.25) == milliseconds(500));
    CHECK(p.delay(5, 0.5) == milliseconds(1000));  // capped at 2 s
    // Out-of-range random numbers are clamped, never a negative or a too long delay.
    CHECK(p.delay(1, -3.0) == milliseconds(0));
    CHECK(p.delay(1, 7.0) == milliseconds(1000));
    CHECK(p.delay(1, std::numeric_limits<double>::quiet_NaN()) == milliseconds(0));
}

TEST_CASE("retry gives up once give_up_after has passed since finalising", "[delivery][retry]") {
    const auto p = policy(1, 300, 100);
    CHECK(p.deadline_unix(1000) == 1100);
    CHECK_FALSE(p.gives_up(1000, 1000));
    CHECK_FALSE(p.gives_up(1000, 1099));
    CHECK(p.gives_up(1000, 1100));
    CHECK(p.gives_up(1000, 5000));
}

TEST_CASE("retry next attempt is now plus the delay, never after the deadline", "[delivery][retry]") {
    const auto p = policy(10, 300, 100);
    // Finalised at 1000 s: the deadline is 1100 s.
    CHECK(p.next_attempt_ms(1000, 1'000'000, 1, 0.5) == 1'005'000);
    CHECK(p.next_attempt_ms(1000, 1'000'000, 4, 0.99999) == 1'080'000);
    // 1095 s + up to 80 s would pass the deadline: the last attempt runs at the deadline.
    CHECK(p.next_attempt_ms(1000, 1'095'000, 4, 0.99999) == 1'100'000);
}
