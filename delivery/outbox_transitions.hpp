#pragma once
// The async outbox's state changes of one delivery record, with no I/O (issue 7, items 4 and 7):
//
//   finalised --start_attempt--> delivering --end_attempt--> delivered
//                                           \-> finalised (next_attempt_unix: backoff)
//                                           \-> dead_lettered (fatal answer, or past give-up)
//   dead_lettered --requeue (operator: bitsd deliveries retry)--> finalised (now)
//
// The outbox persists each record before it acts on it: `delivering` with the attempt counted
// before the POST leaves, so a crash mid-attempt is re-driven at start-up with the same key
// (at least once), and the outcome after the answer.

#include "delivery/retry_policy.hpp"
#include "storage/session_record.hpp"

#include <cstdint>
#include <string>

namespace bitsd::delivery {

enum class attempt_result {
    delivered,         // 2xx
    failed_transient,  // worth another attempt (5xx, 408, 429, network, local failures)
    failed_fatal,      // the back-end refused this upload: no further attempt
};

// finalised (or delivering, re-driven after a crash) -> delivering, attempts + 1.
storage::delivery_record start_attempt(storage::delivery_record record);

struct attempt_end {
    storage::delivery_record record;
    // When record.state is finalised: the next attempt, in milliseconds since the epoch (the
    // outbox's timer); record.next_attempt_unix holds it rounded up to whole seconds.
    std::int64_t next_attempt_ms = 0;
};

// After an attempt that ended at now_ms (milliseconds since the epoch). `error` is the one-line
// reason of a failure (kept in last_error). A transient failure at or past the give-up
// deadline dead-letters the delivery, as a fatal one does at once.
attempt_end end_attempt(storage::delivery_record record, attempt_result result,
                        const std::string& error, std::int64_t now_ms, const retry_policy& policy,
                        double unit_random);

// dead_lettered -> finalised, due at now_unix, attempts and last_error kept (the history stays
// visible). The give-up deadline restarts from now_unix: a re-driven delivery gets a full
// give_up_after_s again before it is dead-lettered again.
storage::delivery_record requeue(storage::delivery_record record, std::int64_t now_unix);

}  // namespace bitsd::delivery
