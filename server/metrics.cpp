#include "server/metrics.hpp"

#include <cstdio>

namespace bitsd::server {

namespace {

void append_number(std::string& out, double value) {
    char text[32];
    const int n = std::snprintf(text, sizeof text, "%.9g", value);
    out.append(text, static_cast<std::size_t>(n));
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(std::to_string(value)).append("\n");
}

// Label values are escaped as the exposition format says: backslash, quote, newline.
std::string label_value(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out.append("\\n");
            continue;
        }
        out.push_back(c);
    }
    return out;
}

// Appends the buckets (made cumulative), _sum and _count of a histogram kept as per-bucket
// counts (the last one +Inf) and a sum in microseconds.
template <typename Bounds, typename Buckets>
void render_histogram(std::string& out, const std::string& name, const Bounds& bounds, const Buckets& buckets,
                      std::uint64_t sum_us) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        cumulative += buckets[i].load(std::memory_order_relaxed);
        std::string le = "le=\"";
        if (i < bounds.size()) {
            append_number(le, bounds[i]);
        } else {
            le += "+Inf";
        }
        le += "\"";
        sample(out, (name + "_bucket").c_str(), le, cumulative);
    }
    out.append(name).append("_sum ");
    append_number(out, static_cast<double>(sum_us) / 1e6);
    out.append("\n");
    // The count is the +Inf bucket, so the two always agree within one scrape.
    sample(out, (name + "_count").c_str(), "", cumulative);
}

const char* mode_name(std::size_t mode) { return mode == 0 ? "sync" : "async"; }

const char* outcome_name(std::size_t outcome) {
    switch (outcome) {
    case 0: return "delivered";
    case 1: return "failed_transient";
    default: return "failed_fatal";
    }
}

const char* auth_failure_name(std::size_t reason) {
    switch (static_cast<auth_failure_label>(reason)) {
    case auth_failure_label::wrong_password: return "wrong_password";
    case auth_failure_label::unknown_user: return "unknown_user";
    case auth_failure_label::malformed: return "malformed";
    case auth_failure_label::rate_limited: break;
    }
    return "rate_limited";
}

}  // namespace

const char* to_label(request_kind kind) noexcept {
    switch (kind) {
    case request_kind::ping: return "Ping";
    case request_kind::create_session: return "Create-Session";
    case request_kind::fragment: return "Fragment";
    case request_kind::close_session: return "Close-Session";
    case request_kind::cancel_session: return "Cancel-Session";
    case request_kind::other: return "other";
    }
    return "other";
}

metrics& metrics::global() noexcept {
    static metrics instance;
    return instance;
}

void metrics::observe_fragment(std::chrono::steady_clock::duration took) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    const double seconds = static_cast<double>(us) / 1e6;
    std::size_t bucket = 0;
    while (bucket < latency_bounds.size() && seconds > latency_bounds[bucket]) ++bucket;
    latency_buckets_[bucket].fetch_add(1, relaxed);
    latency_sum_us_.fetch_add(static_cast<std::uint64_t>(us < 0 ? 0 : us), relaxed);
    latency_count_.fetch_add(1, relaxed);
}

void metrics::delivery_attempted(delivery_mode_label mode, delivery_outcome_label outcome,
                                 std::chrono::steady_clock::duration took) noexcept {
    delivery_attempts_[static_cast<std::size_t>(mode)][static_cast<std::size_t>(outcome)].fetch_add(1, relaxed);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    const double seconds = static_cast<double>(us) / 1e6;
    std::size_t bucket = 0;
    while (bucket < delivery_bounds.size() && seconds > delivery_bounds[bucket]) ++bucket;
    delivery_buckets_[bucket].fetch_add(1, relaxed);
    delivery_sum_us_.fetch_add(static_cast<std::uint64_t>(us < 0 ? 0 : us), relaxed);
}

std::uint64_t metrics::requests(request_kind kind, unsigned status) const noexcept {
    if (status < min_status || status > max_status) return 0;
    return requests_[static_cast<std::size_t>(kind)][status - min_status].load(relaxed);
}

void metrics::render(std::string& out, const session_counts& sessions, const std::string& version) const {
    header(out, "bitsd_build_info", "gauge", "The running bitsd's version (always 1).");
    sample(out, "bitsd_build_info", "version=\"" + label_value(version) + "\"", 1);

    // Only the (type, status) pairs seen so far: a series appears with its first request.
    header(out, "bitsd_requests_total", "counter", "Requests answered, by BITS packet type and HTTP status.");
    for (std::size_t kind = 0; kind < request_kind_count; ++kind) {
        for (unsigned status = min_status; status <= max_status; ++status) {
            const auto value = requests_[kind][status - min_status].load(relaxed);
            if (value == 0) continue;
            sample(out, "bitsd_requests_total",
                   std::string("packet_type=\"") + to_label(static_cast<request_kind>(kind)) +
                       "\",status=\"" + std::to_string(status) + "\"",
                   value);
        }
    }

    header(out, "bitsd_received_bytes_total", "counter", "Request body bytes read from clients.");
    sample(out, "bitsd_received_bytes_total", "", bytes_received_.load(relaxed));

    header(out, "bitsd_fragment_duration_seconds", "histogram",
           "Time from a Fragment's first header byte to its Ack written.");
    render_histogram(out, "bitsd_fragment_duration_seconds", latency_bounds, latency_buckets_,
                     latency_sum_us_.load(relaxed));

    header(out, "bitsd_connections_open", "gauge", "Client connections open on the upload listeners.");
    const auto open = connections_open_.load(relaxed);
    sample(out, "bitsd_connections_open", "", open < 0 ? 0 : static_cast<std::uint64_t>(open));
    header(out, "bitsd_connections_accepted_total", "counter", "Client connections accepted.");
    sample(out, "bitsd_connections_accepted_total", "", connections_total_.load(relaxed));
    header(out, "bitsd_tls_handshake_failures_total", "counter",
           "TLS handshakes that failed on TLS listeners (old versions, plain HTTP, scanners).");
    sample(out, "bitsd_tls_handshake_failures_total", "", tls_handshake_failures_.load(relaxed));
    header(out, "bitsd_accept_pauses_total", "counter",
           "Pauses of an acceptor after a failed accept (out of file descriptors or memory).");
    sample(out, "bitsd_accept_pauses_total", "", accept_pauses_.load(relaxed));

    // Every reason from the start, at 0: an alert on a rate of failures needs the series.
    header(out, "bitsd_auth_failures_total", "counter",
           "Basic authentications that failed, by reason (rate_limited: refused without a check).");
    for (std::size_t reason = 0; reason < auth_failure_count; ++reason) {
        sample(out, "bitsd_auth_failures_total",
               std::string("reason=\"") + auth_failure_name(reason) + "\"", auth_failures_[reason].load(relaxed));
    }
    header(out, "bitsd_auth_verifications_total", "counter", "Password hashes computed for Basic authentication.");
    sample(out, "bitsd_auth_verifications_total", "", auth_verifications_.load(relaxed));
    header(out, "bitsd_auth_cache_hits_total", "counter",
           "Basic requests let in by a credential verified shortly before (no hash computed).");
    sample(out, "bitsd_auth_cache_hits_total", "", auth_cache_hits_.load(relaxed));

    header(out, "bitsd_sessions", "gauge", "Upload sessions in the store, by state (tombstones included).");
    sample(out, "bitsd_sessions", "state=\"receiving\"", sessions.receiving);
    sample(out, "bitsd_sessions", "state=\"committing\"", sessions.committing);
    sample(out, "bitsd_sessions", "state=\"closed\"", sessions.closed);
    sample(out, "bitsd_sessions", "state=\"cancelled\"", sessions.cancelled);
    header(out, "bitsd_sessions_active", "gauge", "Upload sessions receiving or committing.");
    sample(out, "bitsd_sessions_active", "", sessions.receiving + sessions.committing);

    header(out, "bitsd_sessions_created_total", "counter", "Sessions created (Create-Session answered 200).");
    sample(out, "bitsd_sessions_created_total", "", sessions_created_.load(relaxed));
    header(out, "bitsd_sessions_completed_total", "counter", "Sessions committed to their destination.");
    sample(out, "bitsd_sessions_completed_total", "", sessions_completed_.load(relaxed));
    header(out, "bitsd_sessions_cancelled_total", "counter", "Sessions cancelled by their client.");
    sample(out, "bitsd_sessions_cancelled_total", "", sessions_cancelled_.load(relaxed));
    header(out, "bitsd_sessions_expired_total", "counter", "Sessions and tombstones removed by the expiry sweep.");
    sample(out, "bitsd_sessions_expired_total", "", sessions_expired_.load(relaxed));

    // Delivery (issue 7). Every (mode, outcome) pair is shown from the start, at 0: an alert on
    // a rate of failures needs the series before the first one.
    header(out, "bitsd_delivery_attempts_total", "counter",
           "Delivery attempts to a back-end that ended, by mode (sync, async) and outcome.");
    for (std::size_t mode = 0; mode < delivery_mode_count; ++mode) {
        for (std::size_t outcome = 0; outcome < delivery_outcome_count; ++outcome) {
            sample(out, "bitsd_delivery_attempts_total",
                   std::string("mode=\"") + mode_name(mode) + "\",outcome=\"" + outcome_name(outcome) + "\"",
                   delivery_attempts_[mode][outcome].load(relaxed));
        }
    }
    header(out, "bitsd_deliveries_dead_lettered_total", "counter",
           "Deliveries moved to the dead-letter state (fatal answer, give-up deadline, prefix no longer notifying).");
    sample(out, "bitsd_deliveries_dead_lettered_total", "", deliveries_dead_lettered_.load(relaxed));
    header(out, "bitsd_deliveries", "gauge", "Delivery records in the store, by state (delivered ones not counted).");
    sample(out, "bitsd_deliveries", "state=\"finalised\"", sessions.deliveries_finalised);
    sample(out, "bitsd_deliveries", "state=\"delivering\"", sessions.deliveries_delivering);
    sample(out, "bitsd_deliveries", "state=\"dead_lettered\"", sessions.deliveries_dead_lettered);
    header(out, "bitsd_deliveries_owed", "gauge", "Deliveries still owed to a back-end (finalised or delivering).");
    sample(out, "bitsd_deliveries_owed", "", sessions.deliveries_finalised + sessions.deliveries_delivering);
    header(out, "bitsd_delivery_duration_seconds", "histogram",
           "One delivery attempt, from the POST's start to the back-end's verdict.");
    render_histogram(out, "bitsd_delivery_duration_seconds", delivery_bounds, delivery_buckets_,
                     delivery_sum_us_.load(relaxed));
}

}  // namespace bitsd::server
