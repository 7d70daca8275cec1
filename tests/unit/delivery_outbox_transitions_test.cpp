// The async outbox's state changes of a delivery record: counted before each attempt, then
// delivered, retried with backoff, or dead-lettered; and the operator's re-drive.

#include "delivery/outbox_transitions.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using bitsd::delivery::attempt_result;
using bitsd::delivery::end_attempt;
using bitsd::delivery::requeue;
using bitsd::delivery::retry_policy;
using bitsd::delivery::retry_settings;
using bitsd::delivery::start_attempt;
using bitsd::storage::delivery_record;
using bitsd::storage::delivery_state;
using std::chrono::seconds;

namespace {

delivery_record finalised_at(std::int64_t unix_time) {
    delivery_record r;
    r.state = delivery_state::finalised;
    r.idempotency_key = "0123456789abcdef0123456789abcdef";
    r.sha256_base64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    r.finalised_unix = unix_time;
    r.next_attempt_unix = unix_time;
    return r;
}

const retry_policy policy{retry_settings{seconds(10), seconds(300), seconds(100)}};

}  // namespace

TEST_CASE("outbox attempt is counted and recorded delivering before it goes out", "[delivery][outbox]") {
    auto r = start_attempt(finalised_at(1000));
    CHECK(r.state == delivery_state::delivering);
    CHECK(r.attempts == 1);
    // Re-driven after a crash mid-attempt: counted again, same key.
    r = start_attempt(r);
    CHECK(r.state == delivery_state::delivering);
    CHECK(r.attempts == 2);
    CHECK(r.idempotency_key == "0123456789abcdef0123456789abcdef");
}

TEST_CASE("outbox attempt that delivers ends the delivery", "[delivery][outbox]") {
    auto r = start_attempt(finalised_at(1000));
    r.last_error = "back-end answered 503";
    const auto end = end_attempt(r, attempt_result::delivered, "delivered", 1'001'000, policy, 0.5);
    CHECK(end.record.state == delivery_state::delivered);
    CHECK(end.record.last_error.empty());
    CHECK(end.record.attempts == 1);
    CHECK(end.record.idempotency_key == r.idempotency_key);
}

TEST_CASE("outbox transient failure is retried after a jittered backoff", "[delivery][outbox]") {
    auto r = start_attempt(finalised_at(1000));
    auto end = end_attempt(r, attempt_result::failed_transient, "back-end answered 503", 1'000'500,
                           policy, 0.5);
    CHECK(end.record.state == delivery_state::finalised);
    CHECK(end.record.last_error == "back-end answered 503");
    CHECK(end.next_attempt_ms == 1'005'500);         // half of the first 10 s ceiling
    CHECK(end.record.next_attempt_unix == 1006);     // rounded up: never before the timer
    // The second failure doubles the ceiling.
    r = start_attempt(end.record);
    end = end_attempt(r, attempt_result::failed_transient, "timed out", 1'006'000, policy, 0.5);
    CHECK(end.next_attempt_ms == 1'016'000);
    CHECK(end.record.attempts == 2);
}

TEST_CASE("outbox transient failure past give_up_after dead-letters", "[delivery][outbox]") {
    auto r = start_attempt(finalised_at(1000));
    r.attempts = 7;
    // Before the deadline the next attempt is at most the deadline itself.
    auto end = end_attempt(r, attempt_result::failed_transient, "refused", 1'099'000, policy, 0.9);
    CHECK(end.record.state == delivery_state::finalised);
    CHECK(end.record.next_attempt_unix == 1100);
    // At the deadline: given up, the reason kept.
    r = start_attempt(end.record);
    end = end_attempt(r, attempt_result::failed_transient, "refused", 1'100'000, policy, 0.9);
    CHECK(end.record.state == delivery_state::dead_lettered);
    CHECK(end.record.last_error == "gave up after 8 attempts: refused");
    CHECK(end.record.next_attempt_unix == 0);
}

TEST_CASE("outbox fatal answer dead-letters at once", "[delivery][outbox]") {
    const auto r = start_attempt(finalised_at(1000));
    const auto end = end_attempt(r, attempt_result::failed_fatal, "back-end answered 422",
                                 1'000'100, policy, 0.5);
    CHECK(end.record.state == delivery_state::dead_lettered);
    CHECK(end.record.last_error == "back-end answered 422");
    CHECK(end.record.attempts == 1);
}

TEST_CASE("outbox re-drive of a dead letter keeps the history and restarts the window", "[delivery][outbox]") {
    auto r = start_attempt(finalised_at(1000));
    r = end_attempt(r, attempt_result::failed_fatal, "back-end answered 400", 1'000'100, policy, 0.5).record;
    const auto again = requeue(r, 5000);
    CHECK(again.state == delivery_state::finalised);
    CHECK(again.next_attempt_unix == 5000);
    CHECK(again.attempts == 1);
    CHECK(again.last_error == "back-end answered 400");
    CHECK(again.idempotency_key == r.idempotency_key);
    // A transient failure right after the re-drive is retried, not given up at once.
    const auto end = end_attempt(start_attempt(again), attempt_result::failed_transient, "503",
                                 5'000'500, policy, 0.5);
    CHECK(end.record.state == delivery_state::finalised);
}
