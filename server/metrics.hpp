#pragma once
// The daemon's counters for Prometheus (/metrics on the admin listener). Lock-free: every
// counter is a relaxed std::atomic, incremented by one-line hooks in the connection, the upload
// service and the sweep; nothing on a request's path allocates or takes a lock. Rendering (a
// scrape) reads the atomics one by one: a scrape may see one request's counters half updated,
// which Prometheus tolerates (counters only grow).
//
// One registry per process (global()): the counters describe the process, and the hooks sit in
// code (connections, the sweep) that should not carry a reference for them. Tests build their
// own instance.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitsd::server {

// The packet type a request is counted under. `other` is anything that is not a BITS packet
// bitsd could read: a bad header, a URL outside the upload prefixes, another method, GET /.
enum class request_kind : std::uint8_t {
    ping, create_session, fragment, close_session, cancel_session, other
};
inline constexpr std::size_t request_kind_count = 6;
const char* to_label(request_kind kind) noexcept;

// Session counts by state, read from the store at scrape time (the gauge), and the delivery
// records by state (issue 7): finalised + delivering are the deliveries still owed.
struct session_counts {
    std::uint64_t receiving = 0, committing = 0, closed = 0, cancelled = 0;
    std::uint64_t deliveries_finalised = 0, deliveries_delivering = 0, deliveries_dead_lettered = 0;
};

// The labels of a delivery attempt (issue 7): which path ran it, and how it ended. A local
// failure (the data file unreadable, the client stopped) counts as transient: it is retried.
enum class delivery_mode_label : std::uint8_t { sync, async };
enum class delivery_outcome_label : std::uint8_t { delivered, failed_transient, failed_fatal };
inline constexpr std::size_t delivery_mode_count = 2;
inline constexpr std::size_t delivery_outcome_count = 3;

// Why a Basic authentication failed: a password that did not match, a user not in the file, an
// Authorization header that is not Basic user:password, or a client over
// limits.auth_failures_per_minute_per_client (refused without a check).
enum class auth_failure_label : std::uint8_t { wrong_password, unknown_user, malformed, rate_limited };
inline constexpr std::size_t auth_failure_count = 4;

class metrics {
public:
    // Upper bounds of the fragment latency histogram, seconds (+Inf is implicit).
    static constexpr std::array<double, 14> latency_bounds{
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    // Upper bounds of the delivery attempt histogram, seconds: a back-end's answer, up to the
    // longest timeout_s (299).
    static constexpr std::array<double, 14> delivery_bounds{
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 300};

    static metrics& global() noexcept;

    void count_request(request_kind kind, unsigned status) noexcept {
        if (status < min_status || status > max_status) status = max_status;
        requests_[static_cast<std::size_t>(kind)][status - min_status].fetch_add(1, std::memory_order_relaxed);
    }
    void add_bytes_received(std::uint64_t bytes) noexcept { bytes_received_.fetch_add(bytes, relaxed); }
    void observe_fragment(std::chrono::steady_clock::duration took) noexcept;
    void connection_opened() noexcept {
        connections_open_.fetch_add(1, relaxed);
        connections_total_.fetch_add(1, relaxed);
    }
    void connection_closed() noexcept { connections_open_.fetch_sub(1, relaxed); }
    // A TLS listener's handshake that failed (old protocol versions, plain HTTP, scanners).
    void tls_handshake_failed() noexcept { tls_handshake_failures_.fetch_add(1, relaxed); }
    std::uint64_t tls_handshake_failures() const noexcept { return tls_handshake_failures_.load(relaxed); }
    // Basic authentication: a failure by reason, a password hash computed, a request let in by
    // a remembered credential (no hash).
    void auth_failed(auth_failure_label reason) noexcept {
        auth_failures_[static_cast<std::size_t>(reason)].fetch_add(1, relaxed);
    }
    void auth_verified() noexcept { auth_verifications_.fetch_add(1, relaxed); }
    void auth_cache_hit() noexcept { auth_cache_hits_.fetch_add(1, relaxed); }
    // An acceptor paused after a failed accept (out of file descriptors, say): accept_pause.
    void accept_paused() noexcept { accept_pauses_.fetch_add(1, relaxed); }
    std::uint64_t accept_pauses() const noexcept { return accept_pauses_.load(relaxed); }
    void session_created() noexcept { sessions_created_.fetch_add(1, relaxed); }
    void session_completed() noexcept { sessions_completed_.fetch_add(1, relaxed); }
    void session_cancelled() noexcept { sessions_cancelled_.fetch_add(1, relaxed); }
    void session_expired() noexcept { sessions_expired_.fetch_add(1, relaxed); }
    // One delivery attempt ended (`took`: from the POST's start to the back-end's verdict).
    void delivery_attempted(delivery_mode_label mode, delivery_outcome_label outcome,
                            std::chrono::steady_clock::duration took) noexcept;
    // A delivery became dead_lettered (a fatal answer, the give-up deadline, a prefix that no
    // longer notifies).
    void delivery_dead_lettered() noexcept { deliveries_dead_lettered_.fetch_add(1, relaxed); }

    std::uint64_t requests(request_kind kind, unsigned status) const noexcept;
    std::int64_t connections_open() const noexcept { return connections_open_.load(relaxed); }

    // The Prometheus text exposition format (version 0.0.4), appended to `out`. `sessions`
    // is the store's count by state, taken by the caller (it reads the disk).
    void render(std::string& out, const session_counts& sessions, const std::string& version) const;

private:
    static constexpr auto relaxed = std::memory_order_relaxed;
    static constexpr unsigned min_status = 100;
    static constexpr unsigned max_status = 599;
    using counter = std::atomic<std::uint64_t>;

    // Indexed by status - 100: exact codes without a map or a lock (24 KiB in all).
    std::array<std::array<counter, max_status - min_status + 1>, request_kind_count> requests_{};
    counter bytes_received_{0};
    std::array<counter, latency_bounds.size() + 1> latency_buckets_{};  // not cumulative; last = +Inf
    counter latency_sum_us_{0};
    counter latency_count_{0};
    std::atomic<std::int64_t> connections_open_{0};
    counter connections_total_{0};
    counter tls_handshake_failures_{0};
    std::array<counter, auth_failure_count> auth_failures_{};
    counter auth_verifications_{0};
    counter auth_cache_hits_{0};
    counter accept_pauses_{0};
    counter sessions_created_{0};
    counter sessions_completed_{0};
    counter sessions_cancelled_{0};
    counter sessions_expired_{0};
    // Delivery (issue 7): hooks in server/delivery_coordinator (sync) and server/delivery_outbox.
    std::array<std::array<counter, delivery_outcome_count>, delivery_mode_count> delivery_attempts_{};
    counter deliveries_dead_lettered_{0};
    std::array<counter, delivery_bounds.size() + 1> delivery_buckets_{};  // not cumulative; last = +Inf
    counter delivery_sum_us_{0};
};

}  // namespace bitsd::server
