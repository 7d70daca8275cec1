#pragma once
// One delivery attempt of one completed upload to its back-end: the piece the synchronous path
// (the final fragment's Ack waits for it) and the asynchronous outbox share. It builds the
// notification from the durable delivery record (protocol::build_notification, post_of, and
// BITS-Signature when a secret is configured), posts it with the http_client, and classifies
// the outcome (classify_transport / classify_backend_response). It neither reads nor writes
// the session store: the caller moves the record through its states around the attempt.

#include "delivery/http_client.hpp"
#include "protocol/notification.hpp"
#include "storage/session_record.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::delivery {

// The configuration's values for one upload prefix, the secret file already read.
struct delivery_settings {
    protocol::notification_type type = protocol::notification_type::reference;
    std::string url;  // absolute http(s), or relative to the upload URL on public_base_url
    // config public_base_url ("https://bits.example.org") or empty: what relative URLs resolve
    // against and BITS-Original-Request-URL names (protocol::notification_input).
    std::string public_base_url;
    std::chrono::seconds timeout{120};
    std::optional<std::string> signing_secret;  // the trimmed secret; nullopt: no signature
};

struct attempt_input {
    delivery_settings settings;
    std::string session_id;
    std::string data_file;      // the uploaded bytes on this host (reference path; value body)
    std::string response_file;  // by reference: where the back-end may write the reply;
                                // by value: where the response body (the reply) is saved
    std::uint64_t size = 0;     // bytes in data_file
    storage::delivery_record record;  // digest, key and the upload's location (scheme, host, target)
};

// verdict: what classify_backend_response (or the transport failure) made of the exchange.
// local_error: set when the attempt failed here, not at the back-end (the notification could
// not be built, the body file is unreadable, the reply file unwritable, the client stopped);
// the verdict is then unused and the caller answers 500 (context 0x5) and tries again later.
using attempt_handler =
    std::function<void(protocol::delivery_verdict verdict, std::error_code local_error)>;

// Whether an upload to `upload_target` (origin-form, with its query) can be notified with these
// settings: the error build_attempt_request would give for it (a too-long URL), or none.
std::error_code check_deliverable(const delivery_settings& settings, std::string_view upload_target);

// A local_error no later attempt can fix (the notification cannot be built from this record
// and configuration): the delivery is given up at once instead of retried for days.
bool is_permanent_local_failure(const std::error_code& ec);

// Starts the attempt; `done` runs exactly once, on the client's io_context.
void run_delivery_attempt(http_client& client, const attempt_input& input, attempt_handler done);

// The request the attempt sends (for tests and logs): the notification as built, as an HTTP
// request with the signature added for `unix_time`.
std::error_code build_attempt_request(const attempt_input& input, std::int64_t unix_time,
                                      http_request& out);

// A new idempotency key: 128 random bits from OpenSSL's RAND_bytes, as 32 lower-case hex
// digits (a plain token: no quoting or escaping needed anywhere it goes). Empty when the
// random generator fails (the caller answers an internal error and does not finalise).
std::string mint_idempotency_key();

}  // namespace bitsd::delivery
