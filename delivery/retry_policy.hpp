#pragma once
// When the outbox tries an async delivery again (issue 7, item 4): capped exponential backoff
// with full jitter, and a give-up deadline counted from the moment the file was finalised.
//
// Pure: no clock, no random source of its own. The caller passes "now" and a uniform random
// number in [0, 1), so tests are deterministic and the outbox owns one generator.
//
// Full jitter (the "Exponential Backoff And Jitter" rule of the AWS Architecture Blog): the
// delay before the next attempt is uniform in [0, min(max, initial * 2^(failed - 1))]. Spreading
// the whole interval, not only a fringe, keeps a fleet of uploads that failed together (a
// back-end outage) from coming back together and knocking the back-end over again.

#include <chrono>
#include <cstdint>

namespace bitsd::delivery {

struct retry_settings {
    std::chrono::seconds initial{1};         // the cap of the first delay
    std::chrono::seconds max{300};           // no delay is longer
    std::chrono::seconds give_up_after{604800};  // from finalising; then dead-lettered
};

class retry_policy {
public:
    explicit retry_policy(retry_settings settings) noexcept : settings_(settings) {}

    const retry_settings& settings() const noexcept { return settings_; }

    // The ceiling of the delay after `failed_attempts` failed attempts (>= 1; 0 counts as 1):
    // min(max, initial * 2^(failed_attempts - 1)), never overflowing.
    std::chrono::milliseconds ceiling(std::uint32_t failed_attempts) const noexcept;

    // The delay before the next attempt: unit_random (in [0, 1); clamped) times the ceiling.
    std::chrono::milliseconds delay(std::uint32_t failed_attempts, double unit_random) const noexcept;

    // The moment after which no attempt starts: finalised + give_up_after.
    std::int64_t deadline_unix(std::int64_t finalised_unix) const noexcept;

    // True when a failed attempt that ended at now_unix is the last one: the deadline passed.
    bool gives_up(std::int64_t finalised_unix, std::int64_t now_unix) const noexcept;

    // The next attempt after a failure at now (milliseconds since the epoch): now + delay,
    // but never later than the deadline, so the last attempt runs at the deadline itself.
    std::int64_t next_attempt_ms(std::int64_t finalised_unix, std::int64_t now_ms,
                                 std::uint32_t failed_attempts, double unit_random) const noexcept;

private:
    retry_settings settings_;
};

}  // namespace bitsd::delivery
