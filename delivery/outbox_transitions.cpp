#include "delivery/outbox_transitions.hpp"

#include <utility>

namespace bitsd::delivery {

using storage::delivery_state;

storage::delivery_record start_attempt(storage::delivery_record record) {
    record.state = delivery_state::delivering;
    ++record.attempts;
    return record;
}

attempt_end end_attempt(storage::delivery_record record, attempt_result result,
                        const std::string& error, std::int64_t now_ms, const retry_policy& policy,
                        double unit_random) {
    attempt_end end;
    switch (result) {
    case attempt_result::delivered:
        record.state = delivery_state::delivered;
        record.next_attempt_unix = 0;
        record.last_error.clear();
        break;
    case attempt_result::failed_fatal:
        record.state = delivery_state::dead_lettered;
        record.next_attempt_unix = 0;
        record.last_error = error;
        break;
    case attempt_result::failed_transient: {
        // Floor division for the give-up test: an attempt that failed before the deadline's
        // second is not the last one.
        const std::int64_t now_unix = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
        if (policy.gives_up(record.finalised_unix, now_unix)) {
            record.state = delivery_state::dead_lettered;
            record.next_attempt_unix = 0;
            record.last_error = "gave up after " + std::to_string(record.attempts) +
                                " attempts: " + error;
            break;
        }
        end.next_attempt_ms =
            policy.next_attempt_ms(record.finalised_unix, now_ms, record.attempts, unit_random);
        record.state = delivery_state::finalised;
        record.next_attempt_unix = (end.next_attempt_ms + 999) / 1000;
        record.last_error = error;
        break;
    }
    }
    end.record = std::move(record);
    return end;
}

storage::delivery_record requeue(storage::delivery_record record, std::int64_t now_unix) {
    record.state = delivery_state::finalised;
    record.next_attempt_unix = now_unix;
    record.finalised_unix = now_unix;
    return record;
}

}  // namespace bitsd::delivery
