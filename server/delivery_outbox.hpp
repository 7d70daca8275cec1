#pragma once
// The persistent outbox of async deliveries (issue 7, items 4 and 7). A completed upload whose
// prefix has `"delivery": "async"` is finalised on disk (digest, idempotency key, state
// `finalised`) and acknowledged at once; this class then delivers it in the background:
//
//   - The outbox is the session store itself: a session in `finalised` or `delivering` is a
//     delivery still owed. Nothing else is persisted, so nothing can disagree with the store.
//     At start-up every such session is re-driven (a `delivering` one was cut off by a crash:
//     it goes again at once, with the same key).
//   - Before each attempt the record is written `delivering` with the attempt counted; after
//     it, `delivered`, or `finalised` with the next attempt time (capped exponential backoff
//     with full jitter: delivery/retry_policy), or `dead_lettered` with the last error (a fatal
//     answer, or give_up_after_s passed). Each write holds the session's lock, as requests do,
//     but the outbox never waits for it: it takes the lock only when it is free, and a session
//     busy with a request is tried again shortly (a client decides how long its request lasts).
//   - At most max_in_flight attempts run at once; the others wait in a queue ordered by due
//     time, with one timer. A slot is taken once the session's lock is held and given back as
//     soon as the back-end's exchange ends (the outcome's write needs no slot).
//     The outbox runs on an io_context and thread of its own, so no upload connection shares a
//     thread with it; store calls run on the server's blocking pool, and the HTTP exchange is
//     asynchronous, so that thread never blocks either.
//   - Re-drive of dead letters: `bitsd deliveries retry ID` changes the record itself when no
//     daemon holds the data_dir; while one does, it drops a request file named after the
//     session in <data_dir>/delivery-retries/, which this class polls (once a second), applies
//     under the session's lock (dead_lettered -> finalised, due now) and deletes. The daemon
//     stays the only writer of its sessions' metadata.

#include "config/config.hpp"
#include "delivery/delivery_attempt.hpp"
#include "server/blocking_pool.hpp"
#include "server/delivery_scheduler.hpp"
#include "storage/data_dir_layout.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace bitsd::server {

struct outbox_options {
    std::size_t max_in_flight = 16;
    // A due delivery (or an attempt's outcome) whose session a request holds is tried again
    // after this, never waited for.
    std::chrono::milliseconds lock_busy_retry{200};
    std::chrono::milliseconds retry_request_poll{1000};
    std::filesystem::path retry_requests_dir;  // empty: no polling
    // After a delivery whose Close-Session already came (delivery.close_requested): copies the
    // file to its destination or frees the bytes (upload_service::finish_requested_close). On a
    // blocking-pool thread, the session's lock held. Empty: nothing is done.
    std::function<std::error_code(const std::string& session_id)> finish_close;
};

class delivery_outbox final : public delivery_scheduler {
public:
    class impl;
    // Use make_delivery_outbox.
    explicit delivery_outbox(std::unique_ptr<impl> state);
    ~delivery_outbox() override;  // stop()
    delivery_outbox(const delivery_outbox&) = delete;
    delivery_outbox& operator=(const delivery_outbox&) = delete;

    // Starts the outbox's thread, re-drives every pending delivery in the store (the scan
    // runs on the blocking pool) and starts polling for retry requests.
    void start();

    // A session just finalised (or otherwise owed a delivery): deliver it as soon as a slot is
    // free. Safe from any thread, never blocks; a session already queued or in flight is not
    // added twice.
    void schedule(const std::string& session_id) override;

    // A reload (SIGHUP): the prefixes' delivery settings from now on (per_prefix from
    // load_delivery_settings of the same settings). Attempts in flight keep the settings they
    // started with; each next attempt takes the new ones. When some prefix is async, the store
    // is scanned again for deliveries owed (a prefix that just became async gets its pending
    // ones) and retry requests are polled. Any thread.
    void apply_routes(const config::settings& settings,
                      const std::vector<std::optional<delivery::delivery_settings>>& per_prefix);

    // Stops the thread. Attempts in flight are abandoned: their sessions stay `delivering` on
    // disk and are re-driven, with the same key, at the next start. Call before the blocking
    // pool is stopped and joined; the object must outlive that pool's work.
    void stop();

    // The name of the directory of retry requests inside data_dir.
    static constexpr std::string_view retry_requests_name = storage::data_dir_layout::delivery_retries;

private:
    std::unique_ptr<impl> impl_;
};

// The outbox, always (a reload may turn async delivery on); it scans the store and polls for
// retry requests only while some prefix is async. per_prefix: each prefix's delivery settings
// (load_delivery_settings), config order.
//
// A pending delivery the outbox is handed whose prefix no longer notifies a back-end (a reload
// took it away) is dead-lettered with that reason; one whose prefix became sync is delivered
// with the prefix's current notification (its client was already answered: only the outbox
// delivers it).
std::unique_ptr<delivery_outbox> make_delivery_outbox(const config::settings& settings,
                                                      const std::vector<std::optional<delivery::delivery_settings>>& per_prefix,
                                                      storage::session_store& store,
                                                      storage::session_locks& locks,
                                                      blocking_pool& blocking,
                                                      outbox_options options = {});

}  // namespace bitsd::server
