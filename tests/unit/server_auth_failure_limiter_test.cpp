// auth_failure_limiter (limits.auth_failures_per_minute_per_client): a token bucket of failed
// password checks per client address; a successful check gives its token back.

#include "server/auth_failure_limiter.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using bitsd::server::auth_failure_limiter;
using namespace std::chrono_literals;

TEST_CASE("auth limiter: the 31st failed check in a minute is refused, with the wait", "[server][auth][limits]") {
    auth_failure_limiter limiter;
    const auto t0 = auth_failure_limiter::clock::time_point{} + 1000s;
    for (int i = 0; i < 30; ++i) {
        CAPTURE(i);
        CHECK_FALSE(limiter.before_check("10.0.0.1", 30, t0));
    }
    const auto refused = limiter.before_check("10.0.0.1", 30, t0);
    REQUIRE(refused);
    CHECK(*refused == 2s);  // one token every 2 s at 30 a minute
    CHECK(limiter.before_check("10.0.0.1", 30, t0 + 1s) == 1s);
    // Another client is not affected.
    CHECK_FALSE(limiter.before_check("10.0.0.2", 30, t0));
    // The bucket refills at the limit's rate: one check after 2 s, then refused again.
    CHECK_FALSE(limiter.before_check("10.0.0.1", 30, t0 + 2s));
    CHECK(limiter.before_check("10.0.0.1", 30, t0 + 2s));
    // A minute later, the whole allowance again (bursts of as many).
    for (int i = 0; i < 30; ++i) CHECK_FALSE(limiter.before_check("10.0.0.1", 30, t0 + 70s));
    CHECK(limiter.before_check("10.0.0.1", 30, t0 + 70s));
}

TEST_CASE("auth limiter: successful checks give their token back", "[server][auth][limits]") {
    auth_failure_limiter limiter;
    const auto t0 = auth_failure_limiter::clock::time_point{} + 1000s;
    for (int i = 0; i < 100; ++i) {
        REQUIRE_FALSE(limiter.before_check("u", 3, t0));
        limiter.check_succeeded("u", 3, t0);
    }
    for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.before_check("u", 3, t0));
    CHECK(limiter.before_check("u", 3, t0) == 20s);
    // Giving back never exceeds the allowance.
    for (int i = 0; i < 10; ++i) limiter.check_succeeded("u", 3, t0);
    for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.before_check("u", 3, t0));
    CHECK(limiter.before_check("u", 3, t0));
}

TEST_CASE("auth limiter: 0 is no limit; full buckets are forgotten", "[server][auth][limits]") {
    auth_failure_limiter limiter;
    const auto t0 = auth_failure_limiter::clock::time_point{} + 1000s;
    for (int i = 0; i < 1000; ++i) CHECK_FALSE(limiter.before_check("a", 0, t0));
    CHECK(limiter.clients() == 0);
    for (int i = 0; i < 50; ++i) CHECK_FALSE(limiter.before_check("c" + std::to_string(i), 30, t0));
    CHECK(limiter.clients() == 50);
    // Once their buckets are full again, the next sweep (a minute on) forgets them.
    CHECK_FALSE(limiter.before_check("late", 30, t0 + 3min));
    CHECK(limiter.clients() == 1);
}
