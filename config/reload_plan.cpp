#include "config/reload_plan.hpp"

namespace bitsd::config {
namespace {

// The socket and whether it speaks TLS need a restart; the certificate and key files of a TLS
// listener do not (a reload reads them again: the daemon's tls_reloader).
bool same(const listen_endpoint& a, const listen_endpoint& b) {
    return a.host == b.host && a.port == b.port && a.tls.has_value() == b.tls.has_value();
}

// The delivery settings of a prefix (issue 7): they follow a reload too (the delivery
// coordinator and the outbox take them), so a change is reported with "uploads".
bool same(const notification_settings& a, const notification_settings& b) {
    return a.type == b.type && a.url == b.url && a.timeout_s == b.timeout_s && a.delivery == b.delivery &&
           a.retry.initial_s == b.retry.initial_s && a.retry.max_s == b.retry.max_s &&
           a.retry.give_up_after_s == b.retry.give_up_after_s && a.signing_secret_file == b.signing_secret_file;
}

bool same(const upload_prefix& a, const upload_prefix& b) {
    return a.url_prefix == b.url_prefix && a.destination_dir == b.destination_dir &&
           a.allow_overwrites == b.allow_overwrites &&
           a.allow_nested_destination == b.allow_nested_destination &&
           a.max_upload_size == b.max_upload_size && a.session_timeout_s == b.session_timeout_s &&
           same(a.notification, b.notification);
}

template <typename T>
bool same(const T& a, const T& b);  // ==, below: also for the elements of a vector

template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i], b[i])) return false;
    }
    return true;
}

template <typename T>
bool same(const T& a, const T& b) {
    return a == b;
}

}  // namespace

reload_plan plan_reload(const settings& running, const settings& candidate) {
    reload_plan plan;
    plan.next = candidate;
    settings& next = plan.next;
    // Bound to the process: the listening sockets, the locked store and its fsync policy, the
    // thread pools.
    const auto keep = [&](const char* key, auto member) {
        if (same(running.*member, candidate.*member)) return;
        plan.needs_restart.emplace_back(key);
        next.*member = running.*member;
    };
    keep("listen", &settings::listen);
    keep("data_dir", &settings::data_dir);
    keep("fsync", &settings::fsync);
    keep("threads", &settings::threads);
    keep("blocking_threads", &settings::blocking_threads);
    keep("admin_allowed_hosts", &settings::admin_allowed_hosts);

    const auto note = [&](const char* key, auto member) {
        if (!same(running.*member, candidate.*member)) plan.changed.emplace_back(key);
    };
    if (same(running.listen, candidate.listen)) {
        for (std::size_t i = 0; i < candidate.listen.size(); ++i) {
            const auto& now = running.listen[i].tls;
            const auto& then = candidate.listen[i].tls;
            if (now && then && (now->cert != then->cert || now->key != then->key)) {
                plan.changed.push_back("listen[" + std::to_string(i) + "].tls");
            }
        }
    }
    note("uploads", &settings::uploads);
    note("max_fragment_size", &settings::max_fragment_size);
    note("host_id", &settings::host_id);
    note("public_base_url", &settings::public_base_url);
    note("host_id_fallback_timeout_s", &settings::host_id_fallback_timeout_s);
    note("read_timeout_s", &settings::read_timeout_s);
    note("idle_timeout_s", &settings::idle_timeout_s);
    note("min_body_rate_bytes_per_s", &settings::min_body_rate_bytes_per_s);
    note("busy_timeout_s", &settings::busy_timeout_s);
    note("cleanup_interval_s", &settings::cleanup_interval_s);
    note("shutdown_timeout_s", &settings::shutdown_timeout_s);
    note("log_level", &settings::level);
    return plan;
}

}  // namespace bitsd::config
