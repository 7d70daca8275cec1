#pragma once
// How many failed password checks one client address may cause (config
// limits.auth_failures_per_minute_per_client): a token bucket per client, of as many tokens as
// the per-minute limit, refilled at that rate. Every password check takes a token before it
// runs; a check that succeeds gives it back, so only failures spend the allowance. An empty
// bucket refuses the check: the caller answers 503 + Retry-After without computing a hash.
// Authentication methods other than Basic that cost a check use the same limiter.
//
// Thread-safe. One limiter outlives every configuration generation (the daemon's), so a reload
// does not hand a guesser a fresh allowance; the limit itself is passed with each call (it
// follows a reload). Memory: clients whose bucket is full again are forgotten once a minute,
// and at most max_clients are tracked: beyond that a new client's check is refused, which a
// credential verified before (credential_cache) still passes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bitsd::server {

class auth_failure_limiter {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::size_t max_clients = 100000;

    // Before a check for `client` (its address; admission_control::client_of): nullopt when it
    // may run (a token is taken), else how long until it may. `per_minute` 0 = no limit.
    std::optional<std::chrono::seconds> before_check(const std::string& client, std::uint64_t per_minute,
                                                     clock::time_point now);
    // The check succeeded: its token comes back.
    void check_succeeded(const std::string& client, std::uint64_t per_minute, clock::time_point now);

    std::size_t clients() const;

private:
    struct bucket {
        double tokens = 0;
        clock::time_point updated{};
    };
    static void refill(bucket& b, double capacity, clock::time_point now);
    void forget_full(std::uint64_t per_minute, clock::time_point now);  // mutex_ held

    mutable std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
    clock::time_point next_sweep_{};
};

}  // namespace bitsd::server
