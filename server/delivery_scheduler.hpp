#pragma once
// The hand-over from the request path to the asynchronous outbox (issue 7, "delivery": "async").
// When a file of an async prefix is durably finalised (delivery state `finalised`, digest and
// idempotency key stored), the request path calls schedule(id) and answers the client at once;
// everything after that (attempts, backoff with jitter, dead letters, re-driving at start-up)
// belongs to the outbox, which works from the durable delivery record, never from memory.
//
// The outbox is the d2 work stream's part: until it lands, no_delivery_scheduler only logs, and
// a finalised async delivery waits in the store (the sweep keeps it) for the outbox to come.

#include <string>

namespace bitsd::server {

class delivery_scheduler {
public:
    virtual ~delivery_scheduler() = default;
    // Called on a blocking-pool thread, with the session's lock held, after the finalised
    // record is durable. May be called again for a session already scheduled (a repeated final
    // fragment, a Close-Session): it must be idempotent. Must not block.
    virtual void schedule(const std::string& session_id) = 0;
};

// Placeholder until the outbox exists (d2): logs the hand-over and does nothing else.
class no_delivery_scheduler final : public delivery_scheduler {
public:
    void schedule(const std::string& session_id) override;
};

}  // namespace bitsd::server
