#pragma once
// The server's side of delivering completed uploads to a back-end (issue 7): everything the
// request path does around protocol/notification.* and delivery/delivery_attempt.*.
//
//  - the SHA-256 of each upload of a notifying prefix, fed while the bytes stream in (one
//    content_digest per session in memory, handed to the fragment's transfer and back; rebuilt
//    from the file when its length no longer matches the received offset: after a restart, or
//    bytes cut off by a failed write);
//  - finalising: when a fragment leaves the file complete and durable, the digest, a fresh
//    idempotency key and the upload's location are stored with state `finalised` (fsynced);
//  - sync delivery: the state becomes `delivering` (attempt counted, fsynced), one attempt runs
//    on the connection's io_context (the HTTP client never blocks a thread), its outcome is
//    stored (`delivered`, or back to `finalised` for a transient failure, `dead_lettered` for a
//    fatal one) and the final fragment is answered from it: the Ack with BITS-Reply-URL, or the
//    error Ack with context 0x7. A final fragment sent again after a success gets the stored Ack
//    without notifying; after a failure it notifies again with the same key;
//  - async delivery: `finalised` and a hand-over to the delivery_scheduler (the outbox);
//  - Close-Session and Cancel-Session of a session with a delivery.
//
// Disk work (store reads and updates) runs on the blocking pool; the HTTP exchange on the
// connection's io_context. The session's lock is held from the fragment to the answer.

#include "config/config.hpp"
#include "delivery/delivery_attempt.hpp"
#include "protocol/engine.hpp"
#include "server/blocking_pool.hpp"
#include "server/delivery_scheduler.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bitsd::delivery {
class content_digest;
}

namespace bitsd::server {

// Where the client sent a request: the request's scheme, its target with the query, the
// listener's own address (what the back-end is told when no public_base_url is set) and the
// client's Host header (only ever in the reply URL handed back to that client).
struct request_origin {
    std::string scheme = "http";
    std::string host;    // the client's Host header, as sent (may be empty or no authority)
    std::string target;
    std::string local;   // the listener's address the request came in on: "127.0.0.1:8080", "[::1]:8080"
};

// "a.b.c.d:port" or "[v6]:port" (without a scope id): an endpoint as a URL's authority.
std::string url_authority(const boost::asio::ip::tcp::endpoint& endpoint);

// A synchronous delivery for the connection to run before it answers the final fragment.
struct sync_delivery {
    delivery::attempt_input input;
    protocol::response success_ack;  // the final fragment's Ack, before BITS-Reply-URL
    std::optional<std::string> echo_session_id;
    // One of limits.max_sync_deliveries, given back when the last copy of the job goes.
    std::shared_ptr<void> slot;
    std::string client_host;  // the final fragment's Host: the reply URL goes back to that client
};

// What finish_fragment decided: an answer now, or a delivery to run first.
struct fragment_result {
    protocol::response response;
    std::optional<sync_delivery> delivery;
};

// What Close-Session does with a session that has a delivery record.
struct close_decision {
    enum class kind {
        commit,   // to destination_dir as a plain upload (BITS-Copy-File-To-Destination)
        release,  // the back-end has the file: free the bytes, leave a closed tombstone
        answer,   // answer `response` and change nothing more
    };
    kind action = kind::commit;
    protocol::response response;
};

class delivery_coordinator {
public:
    // per_prefix: one entry per upload prefix of `settings` (config order). The coordinator
    // outlives every upload_service generation (SIGHUP), so it keeps its own settings and
    // engine, and prefixes are named by their url_prefix, never by a generation's index.
    delivery_coordinator(std::shared_ptr<const config::settings> settings, storage::session_store& store,
                         storage::session_locks& locks,
                         std::vector<std::optional<delivery::delivery_settings>> per_prefix,
                         delivery_scheduler& scheduler);
    ~delivery_coordinator();
    delivery_coordinator(const delivery_coordinator&) = delete;
    delivery_coordinator& operator=(const delivery_coordinator&) = delete;

    // A reload (SIGHUP) with settings already validated (per_prefix from load_delivery_settings
    // of the same settings). Swaps in an immutable snapshot: every call takes the snapshot in
    // force when it starts and works on it to its end; a sync delivery already prepared keeps
    // the settings it was prepared with (sync_delivery::input). Any thread.
    void apply(std::shared_ptr<const config::settings> settings,
               std::vector<std::optional<delivery::delivery_settings>> per_prefix);

    bool enabled(const std::string& url_prefix) const;
    bool any_enabled() const;

    // Whether an upload to `target` (with its query) under `url_prefix` can be notified: an
    // error (a protocol::notification_errc) when its notification could never be built, so
    // that the request is refused up front instead of failing at every delivery attempt.
    std::error_code check_deliverable(const std::string& url_prefix, std::string_view target) const;

    // ---- blocking pool, session lock held ----

    // The digest to feed with bytes appended at `offset` (rebuilt from the data file when it
    // does not hold exactly `offset` bytes). Empty pointer and an error when that fails.
    std::shared_ptr<delivery::content_digest> digest_for(const std::string& id, std::uint64_t offset,
                                                         std::error_code& ec);
    // Gives the digest back after the fragment; kept only when it covers `received` bytes.
    void keep_digest(const std::string& id, std::shared_ptr<delivery::content_digest> digest,
                     std::uint64_t received);

    // Drops the in-memory digest of a session that went away (cancelled, expired).
    void forget(const std::string& id);

    // A fragment (stored or a duplicate) left the file complete. `ack` is the plain Ack.
    fragment_result on_complete(const protocol::packet& fragment, const std::string& url_prefix,
                                const request_origin& origin, protocol::response ack);

    // Close-Session of a complete session of a notifying prefix.
    close_decision on_close(const protocol::packet& close, const std::string& url_prefix,
                            const storage::session_metadata& metadata);
    // The `release` of a close_decision. Returns the storage error, if any.
    std::error_code release(const std::string& id);

    // Cancel-Session: true when the session's bytes must stay (an async delivery still owed).
    bool keeps_bytes_on_cancel(const storage::session_metadata& metadata) const;

    // ---- the connection's io_context ----

    // Runs the attempt, stores its outcome, releases `held_lock` (the session's lock, handed
    // over by the connection so that a connection that goes away cannot free it mid-delivery)
    // and calls `done` with the answer on `context`.
    void run_sync(boost::asio::io_context& context, blocking_pool::executor_type blocking,
                  sync_delivery job, std::string held_lock,
                  std::function<void(protocol::response)> done);

    // Stops every HTTP client (exchanges in flight end with client_stopped). Call with the
    // io_contexts no longer running, before they are destroyed.
    void stop();

    // The reply path of a session, relative to the upload's directory (IIS's layout).
    static std::string reply_path(const std::string& session_id);

private:
    // One configuration's delivery settings, never changed once built.
    struct snapshot {
        std::shared_ptr<const config::settings> settings;
        protocol::engine engine;
        std::vector<std::optional<delivery::delivery_settings>> per_prefix;
        bool any_enabled = false;
        // The index of url_prefix in settings->uploads, when it notifies a back-end.
        std::optional<std::size_t> notifying(const std::string& url_prefix) const;
        bool async(std::size_t prefix_index) const;
    };
    static std::shared_ptr<const snapshot> make_snapshot(
        std::shared_ptr<const config::settings> settings,
        std::vector<std::optional<delivery::delivery_settings>> per_prefix);
    std::shared_ptr<const snapshot> current() const;
    std::string session_dir(const std::string& id) const;

    delivery::http_client& client_for(boost::asio::io_context& context);
    protocol::response record_attempt(const sync_delivery& job, const protocol::delivery_verdict& verdict,
                                      std::error_code local_error);
    std::error_code finalise(const std::string& id, const request_origin& origin, storage::session_info& info);
    static protocol::response failure_ack(const std::optional<std::string>& echo, unsigned status,
                                          std::uint32_t hresult, std::uint32_t context);
    static protocol::response stored_answer(const storage::delivery_record& record,
                                            const protocol::response& ack,
                                            const std::optional<std::string>& echo);

    storage::session_store& store_;
    storage::session_locks& locks_;
    delivery_scheduler& scheduler_;

    mutable std::mutex snapshot_mutex_;  // guards snapshot_ (the pointer, not what it points to)
    std::shared_ptr<const snapshot> snapshot_;

    // A slot for one more sync delivery, or empty when `limit` are in flight.
    std::shared_ptr<void> take_sync_slot(std::uint64_t limit);
    std::atomic<std::uint64_t> sync_in_flight_{0};
    std::atomic<std::int64_t> last_busy_warning_{0};  // steady-clock seconds

    std::mutex mutex_;  // guards the two maps
    std::map<std::string, std::shared_ptr<delivery::content_digest>> digests_;
    std::map<boost::asio::io_context*, std::unique_ptr<delivery::http_client>> clients_;
};

// Reads each notifying prefix's settings (the secret from signing_secret_file). On a bad secret
// file returns a message naming the key (uploads[i].notification.signing_secret_file).
std::optional<std::string> load_delivery_settings(
    const config::settings& settings, std::vector<std::optional<delivery::delivery_settings>>& out);

}  // namespace bitsd::server
