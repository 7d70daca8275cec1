#include "server/delivery_outbox.hpp"

#include "delivery/delivery_attempt.hpp"
#include "delivery/outbox_transitions.hpp"
#include "delivery/retry_policy.hpp"
#include "server/metrics.hpp"
#include "storage/session_id.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

namespace bitsd::server {

namespace net = boost::asio;
namespace fs = std::filesystem;
using storage::delivery_state;
using clock = std::chrono::steady_clock;

// One upload prefix that notifies a back-end: how to deliver and how to retry. Only `async`
// routes are the outbox's own (re-driven at start-up and after a reload); a sync one serves
// deliveries handed over while the prefix was async, or re-driven by an operator.
struct outbox_route {
    delivery::delivery_settings settings;
    delivery::retry_settings retry;
    bool async = false;
};

using route_map = std::map<std::string, outbox_route>;

namespace {

std::int64_t system_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t system_now_unix() { return system_now_ms() / 1000; }

// A moment on the system clock (what the records store) as a steady-clock deadline (what the
// timer waits for): immune to the wall clock being set while it waits.
clock::time_point steady_at_ms(std::int64_t unix_ms) {
    return clock::now() + std::chrono::milliseconds(unix_ms - system_now_ms());
}

const char* result_name(delivery::attempt_result result) {
    switch (result) {
    case delivery::attempt_result::delivered: return "delivered";
    case delivery::attempt_result::failed_transient: return "failed (transient)";
    case delivery::attempt_result::failed_fatal: return "failed (fatal)";
    }
    return "?";
}

}  // namespace

class delivery_outbox::impl {
public:
    impl(storage::session_store& store, storage::session_locks& locks, blocking_pool& blocking,
         route_map routes, outbox_options options)
        : store_(store),
          locks_(locks),
          blocking_(blocking),
          routes_(std::make_shared<const route_map>(std::move(routes))),
          options_(std::move(options)),
          random_(std::random_device{}()) {
        if (options_.max_in_flight == 0) options_.max_in_flight = 1;
    }

    ~impl() { stop(); }

    void start() {
        work_.emplace(context_.get_executor());
        // Deliveries share the HTTP client's pooled connections to each back-end.
        delivery::http_client_options client_options;
        client_ = std::make_unique<delivery::http_client>(context_, client_options);
        thread_ = std::thread([this] { context_.run(); });
        // Once at start-up whatever the routes: a delivery owed to a prefix that no longer
        // notifies is dead-lettered instead of waiting forever.
        net::post(blocking_.executor(), [this] { scan_store(); });
        net::post(context_, [this] { on_routes_changed(false); });
    }

    // A reload: the prefixes' current delivery settings. Deliveries prepared before keep what
    // they were prepared with; the next preparation of each session takes the new routes.
    void apply_routes(route_map routes) {
        auto next = std::make_shared<const route_map>(std::move(routes));
        {
            std::lock_guard<std::mutex> guard(routes_mutex_);
            routes_.swap(next);
        }
        // Queued until start() when it comes first.
        net::post(context_, [this] { on_routes_changed(true); });
    }

    void stop() {
        if (!thread_.joinable()) return;
        work_.reset();
        context_.stop();
        thread_.join();
        // The context no longer runs: what is still queued in it (attempts' handlers, work the
        // blocking pool posts back later) is destroyed with it, never run.
        stopped_ = true;
        timer_.cancel();
        poll_timer_.cancel();
        record_timer_.cancel();
        client_->stop();
        client_.reset();
    }

    void schedule(const std::string& session_id) {
        auto id = storage::normalize_session_id(session_id);
        if (!id) return;
        net::post(context_, [this, id = std::move(*id)] { enqueue(id, clock::now()); });
    }

private:
    struct due_entry {
        clock::time_point due;
        std::uint64_t order;  // first scheduled, first served among equal due times
        std::string id;
        bool operator>(const due_entry& other) const {
            return std::tie(due, order) > std::tie(other.due, other.order);
        }
    };

    // What the blocking work before an attempt found.
    struct prepared {
        enum class kind { skip, defer, attempt } what = kind::skip;
        std::string reason;               // skip: why (logged)
        std::int64_t defer_until_ms = 0;  // defer
        delivery::attempt_input input;    // attempt
        delivery::retry_settings retry;   // attempt
    };

    // ---- on the outbox's thread -----------------------------------------------------------

    // At start-up and after each reload: while some prefix is async, every delivery owed in
    // the store is found (enqueue ignores those already queued or in flight) and retry
    // requests are polled. Nothing is scanned or polled while no prefix is async.
    void on_routes_changed(bool scan) {
        if (stopped_) return;
        const auto routes = current_routes();
        bool any_async = false;
        for (const auto& [prefix, route] : *routes) any_async = any_async || route.async;
        if (!any_async) return;
        if (scan) net::post(blocking_.executor(), [this] { scan_store(); });
        if (polling_ || options_.retry_requests_dir.empty()) return;
        polling_ = true;
        net::post(blocking_.executor(), [this] {
            // Made here, by the daemon's user, so that it can delete the requests a CLI run by
            // that same user (or root) drops in it.
            std::error_code ec;
            fs::create_directories(options_.retry_requests_dir, ec);
            if (ec) {
                spdlog::warn("outbox: cannot create {}: {}; `bitsd deliveries retry` cannot reach "
                             "this daemon", options_.retry_requests_dir.string(), ec.message());
            }
            net::post(context_, [this] { poll_retry_requests(); });
        });
    }

    // Error lines name the session's directory (issue 8 item 7).
    std::string session_dir(const std::string& id) const {
        storage::session_files files;
        if (store_.local_files(id, files)) return "no local directory";
        return files.data.parent_path().string();
    }

    std::shared_ptr<const route_map> current_routes() const {
        std::lock_guard<std::mutex> guard(routes_mutex_);
        return routes_;
    }

    void enqueue(const std::string& id, clock::time_point due) {
        if (stopped_ || !known_.insert(id).second) return;  // queued or in flight already
        queue_.push(due_entry{due, next_order_++, id});
        pump();
    }

    void requeue_at(const std::string& id, clock::time_point due) {
        queue_.push(due_entry{due, next_order_++, id});
    }

    // Starts every due delivery a slot is free for, then waits for the next one. A slot is
    // taken only with the session's lock in hand: a session busy with a request (a client may
    // keep one busy for as long as its body trickles in) is tried again shortly, and the slot
    // goes to the next delivery meanwhile. Never waiting for a lock, a slot is only ever spent
    // on an attempt that runs.
    void pump() {
        if (stopped_) return;
        const auto now = clock::now();
        while (in_flight_ < options_.max_in_flight && !queue_.empty() && queue_.top().due <= now) {
            auto id = queue_.top().id;
            queue_.pop();
            if (!locks_.try_lock(id)) {
                requeue_at(id, now + options_.lock_busy_retry);
                continue;
            }
            ++in_flight_;
            begin(std::move(id));
        }
        if (in_flight_ >= options_.max_in_flight || queue_.empty()) return;
        timer_.expires_at(queue_.top().due);
        timer_.async_wait([this](boost::system::error_code ec) {
            if (!ec) pump();
        });
    }

    // An attempt's slot is free again.
    void finished() {
        --in_flight_;
        pump();
    }

    // Runs `work` on the blocking pool with the session's lock, which the caller already holds
    // (try_lock), releases it, then calls `done` with the result on the outbox's thread.
    template <typename Work, typename Done>
    void with_lock_held(const std::string& id, Work work, Done done) {
        net::post(blocking_.executor(), [this, id, work = std::move(work), done = std::move(done)]() mutable {
            auto result = work();
            locks_.unlock(id);
            net::post(context_, [result = std::move(result), done = std::move(done)]() mutable {
                done(std::move(result));
            });
        });
    }

    // The session's lock is held (pump).
    void begin(std::string id) {
        with_lock_held(id, [this, id] { return prepare(id); },
               [this, id](prepared p) {
                   if (stopped_) return;
                   switch (p.what) {
                   case prepared::kind::skip:
                       if (!p.reason.empty()) spdlog::warn("delivery {}: {}", id, p.reason);
                       known_.erase(id);
                       finished();
                       return;
                   case prepared::kind::defer:
                       requeue_at(id, steady_at_ms(p.defer_until_ms));
                       finished();
                       return;
                   case prepared::kind::attempt:
                       attempt(id, std::move(p));
                       return;
                   }
               });
    }

    void attempt(const std::string& id, prepared p) {
        spdlog::debug("delivery {}: attempt {} to {}", id, p.input.record.attempts, p.input.settings.url);
        auto retry = p.retry;
        const auto started = clock::now();
        delivery::run_delivery_attempt(
            *client_, p.input,
            [this, id, retry, started](protocol::delivery_verdict verdict, std::error_code local_error) {
                if (stopped_) return;
                delivery::attempt_result result = delivery::attempt_result::failed_transient;
                std::string reason;
                if (local_error) {
                    reason = "local failure: " + local_error.message();
                    // No later attempt builds this notification either: dead-lettered now.
                    if (delivery::is_permanent_local_failure(local_error)) {
                        result = delivery::attempt_result::failed_fatal;
                    }
                } else {
                    reason = verdict.reason;
                    if (verdict.outcome == protocol::delivery_outcome::delivered) {
                        result = delivery::attempt_result::delivered;
                    } else if (verdict.outcome == protocol::delivery_outcome::failed_fatal) {
                        result = delivery::attempt_result::failed_fatal;
                    }
                }
                metrics::global().delivery_attempted(
                    delivery_mode_label::async,
                    result == delivery::attempt_result::delivered      ? delivery_outcome_label::delivered
                    : result == delivery::attempt_result::failed_fatal ? delivery_outcome_label::failed_fatal
                                                                       : delivery_outcome_label::failed_transient,
                    clock::now() - started);
                const double unit_random = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
                const bool copy = !local_error && verdict.copy_to_destination;
                finished();  // the exchange is over: its slot goes to the next delivery
                record_outcome(id, result, reason, retry, unit_random, copy);
            });
    }

    // Writes an attempt's outcome with the session's lock, taken without waiting: while a
    // request holds it, the outcome is kept here and tried again shortly, holding no slot. Safe
    // because the record on disk says `delivering` meanwhile and the session stays in known_,
    // so no other attempt starts; a crash meanwhile re-drives it with the same key. The lock is
    // still taken (never a write without it) because requests change the same metadata file
    // (Close-Session records close_requested) and the write is a read-modify-write of it.
    void record_outcome(const std::string& id, delivery::attempt_result result, std::string reason,
                        delivery::retry_settings retry, double unit_random, bool copy) {
        if (stopped_) return;
        if (!locks_.try_lock(id)) {
            busy_records_.push_back(busy_record{id, result, std::move(reason), retry, unit_random, copy});
            if (!record_timer_armed_) {
                record_timer_armed_ = true;
                record_timer_.expires_after(options_.lock_busy_retry);
                record_timer_.async_wait([this](boost::system::error_code ec) {
                    record_timer_armed_ = false;
                    if (ec || stopped_) return;
                    auto waiting = std::move(busy_records_);
                    busy_records_.clear();
                    for (auto& r : waiting) {
                        record_outcome(r.id, r.result, std::move(r.reason), r.retry, r.unit_random, r.copy);
                    }
                });
            }
            return;
        }
        struct outcome {
            bool written = false;
            delivery::attempt_end end;
            std::string error;
        };
        with_lock_held(id,
               [this, id, result, reason, retry, unit_random, copy] {
                   outcome o;
                   storage::session_info current;
                   if (auto ec = store_.info(id, current)) {
                       o.error = "cannot read the session (" + session_dir(id) + "): " + ec.message();
                       return o;
                   }
                   if (current.metadata.delivery.state != delivery_state::delivering) {
                       o.error = std::string("state changed meanwhile to ") +
                                 storage::to_string(current.metadata.delivery.state);
                       return o;
                   }
                   const auto now_ms = system_now_ms();
                   o.end = delivery::end_attempt(current.metadata.delivery, result, reason, now_ms,
                                                 delivery::retry_policy(retry), unit_random);
                   if (o.end.record.state == delivery_state::delivered) {
                       o.end.record.copy_to_destination = copy;
                   }
                   current.metadata.delivery = o.end.record;
                   if (auto ec = store_.update(current.metadata)) {
                       o.error = "cannot record the outcome (" + session_dir(id) + "): " + ec.message();
                       return o;
                   }
                   o.written = true;
                   finish_close(id, current.metadata);
                   return o;
               },
               [this, id, result, reason, retry](outcome o) {
                   if (stopped_) return;
                   if (!o.written) {
                       // The record on disk still says `delivering`: the delivery is owed and
                       // is tried again after the first delay (same key).
                       spdlog::error("delivery {}: {} ({}; {}); tried again later", id, o.error,
                                     session_dir(id), result_name(result));
                       requeue_at(id, clock::now() + std::chrono::duration_cast<clock::duration>(retry.initial));
                       pump();
                       return;
                   }
                   const auto& record = o.end.record;
                   switch (record.state) {
                   case delivery_state::delivered:
                       spdlog::info("delivery {}: delivered (attempt {})", id, record.attempts);
                       known_.erase(id);
                       break;
                   case delivery_state::dead_lettered:
                       metrics::global().delivery_dead_lettered();
                       spdlog::error("delivery {}: dead-lettered after {} attempts: {} "
                                     "(bitsd deliveries retry {} re-drives it)",
                                     id, record.attempts, record.last_error, id);
                       known_.erase(id);
                       break;
                   default:
                       spdlog::warn("delivery {}: attempt {} {}: {}; next attempt in {} ms", id,
                                    record.attempts, result_name(result), reason,
                                    o.end.next_attempt_ms - system_now_ms());
                       requeue_at(id, steady_at_ms(o.end.next_attempt_ms));
                       pump();
                       break;
                   }
               });
    }

    // ---- on the blocking pool (the session's lock held) -----------------------------------

    prepared prepare(const std::string& id) {
        prepared p;
        storage::session_info current;
        if (auto ec = store_.info(id, current)) {
            p.reason = "cannot read the session (" + session_dir(id) + "): " + ec.message();
            return p;
        }
        auto& metadata = current.metadata;
        if (!storage::delivery_pending(metadata.delivery.state)) return p;  // done meanwhile
        const auto routes = current_routes();
        const auto route = routes->find(metadata.url_prefix);
        if (route == routes->end()) {
            // A reload (or a restart) took the prefix's notification away: nothing says where
            // it would go. Dead-lettered, visible to `bitsd deliveries list`, re-driven by
            // `bitsd deliveries retry` once the prefix notifies again; never kept forever.
            metadata.delivery.state = delivery_state::dead_lettered;
            metadata.delivery.last_error = "prefix " + metadata.url_prefix +
                                           " no longer notifies a back-end (configuration changed)";
            if (auto ec = store_.update(metadata)) {
                p.reason = "cannot dead-letter it (" + metadata.delivery.last_error + "): " + ec.message();
                return p;
            }
            metrics::global().delivery_dead_lettered();
            p.reason = "dead-lettered: " + metadata.delivery.last_error + " (bitsd deliveries retry " + id +
                       " re-drives it once it does)";
            return p;
        }
        // Not due yet (a hand-over for a session that is waiting out its backoff): wait. The
        // record holds whole seconds, rounded up from the timer's milliseconds: within that
        // second it is due.
        if (metadata.delivery.state == delivery_state::finalised &&
            metadata.delivery.next_attempt_unix * 1000 > system_now_ms() + 1000) {
            p.what = prepared::kind::defer;
            p.defer_until_ms = metadata.delivery.next_attempt_unix * 1000;
            return p;
        }
        storage::session_files files;
        if (auto ec = store_.local_files(id, files)) {
            p.reason = "the store has no local files to deliver: " + ec.message();
            return p;
        }
        metadata.delivery = delivery::start_attempt(metadata.delivery);
        if (auto ec = store_.update(metadata)) {
            // Not counted, not sent: try again after the first delay.
            p.what = prepared::kind::defer;
            p.defer_until_ms = system_now_ms() + route->second.retry.initial.count() * 1000;
            spdlog::error("delivery {}: cannot record the attempt ({}): {}; tried again later", id,
                          session_dir(id), ec.message());
            return p;
        }
        p.what = prepared::kind::attempt;
        p.input.settings = route->second.settings;
        p.input.session_id = id;
        p.input.data_file = files.data.string();
        p.input.response_file = files.reply.string();
        p.input.size = current.received;
        p.input.record = metadata.delivery;
        p.retry = route->second.retry;
        return p;
    }

    // The client's Close-Session came before the back-end had the file: apply it now.
    void finish_close(const std::string& id, const storage::session_metadata& metadata) {
        if (!options_.finish_close || metadata.delivery.state != delivery_state::delivered ||
            !metadata.delivery.close_requested || metadata.state != storage::session_state::receiving) {
            return;
        }
        if (const auto ec = options_.finish_close(id)) {
            // The bytes stay; the client's next Close-Session (or the expiry) settles it.
            spdlog::error("delivery {}: delivered, but the requested Close could not be applied ({}): {}",
                          id, session_dir(id), ec.message());
        }
    }

    // Every delivery owed at start-up: `finalised` at its time, `delivering` (cut off by a
    // crash or a stop) at once.
    void scan_store() {
        struct owed {
            std::string id;
            std::int64_t due_ms;
        };
        std::vector<owed> found;
        std::size_t elsewhere = 0;
        std::vector<std::string> closes;  // delivered, Close requested, not applied (a crash)
        const auto routes = current_routes();
        const auto ec = store_.list([&](const storage::session_info& info) {
            const auto& d = info.metadata.delivery;
            if (d.state == delivery_state::delivered && d.close_requested &&
                info.metadata.state == storage::session_state::receiving) {
                closes.push_back(info.metadata.id);
            }
            if (!storage::delivery_pending(d.state)) return;
            const auto route = routes->find(info.metadata.url_prefix);
            // A prefix now sync: the record does not say whether the delivery was async (the
            // client was answered and only the outbox will deliver it) or a failed sync one
            // (the client retries): left to the client. A prefix that no longer notifies:
            // taken in, to be dead-lettered (prepare).
            if (route != routes->end() && !route->second.async) {
                ++elsewhere;
                return;
            }
            const std::int64_t due_ms =
                d.state == delivery_state::finalised ? d.next_attempt_unix * 1000 : 0;
            found.push_back({info.metadata.id, due_ms});
        });
        if (ec) spdlog::warn("outbox: some sessions could not be read: {}", ec.message());
        for (const auto& id : closes) {
            if (!locks_.try_lock(id)) continue;  // busy with a request: its Close settles it
            storage::session_info current;
            if (!store_.info(id, current)) finish_close(id, current.metadata);
            locks_.unlock(id);
        }
        if (!found.empty()) spdlog::info("outbox: {} deliveries owed, re-driven", found.size());
        if (elsewhere > 0) {
            spdlog::info("outbox: {} pending deliveries of prefixes with sync delivery are "
                         "left to their clients' retries", elsewhere);
        }
        net::post(context_, [this, found = std::move(found)] {
            const auto now_ms = system_now_ms();
            for (const auto& o : found) enqueue(o.id, steady_at_ms(std::max(o.due_ms, now_ms)));
        });
    }

    // ---- retry requests from `bitsd deliveries retry` -------------------------------------

    void poll_retry_requests() {
        if (stopped_) return;
        net::post(blocking_.executor(), [this] {
            auto ids = apply_retry_requests();
            net::post(context_, [this, ids = std::move(ids)] {
                for (const auto& id : ids) enqueue(id, clock::now());
                if (stopped_) return;
                poll_timer_.expires_after(options_.retry_request_poll);
                poll_timer_.async_wait([this](boost::system::error_code ec) {
                    if (!ec) poll_retry_requests();
                });
            });
        });
    }

    std::vector<std::string> apply_retry_requests() {
        std::vector<std::string> requeued;
        std::error_code ec;
        fs::directory_iterator it(options_.retry_requests_dir, ec);
        if (ec) return requeued;  // no directory: no request was ever made
        std::vector<fs::path> requests;
        for (std::size_t n = 0; it != fs::directory_iterator() && n < 1000; it.increment(ec), ++n) {
            if (ec) break;
            requests.push_back(it->path());
        }
        for (const auto& path : requests) {
            const auto id = storage::normalize_session_id(path.filename().string());
            if (!id) {
                std::error_code ignored;
                fs::remove(path, ignored);
                continue;
            }
            // A session busy with a request or an attempt: its turn comes at the next poll.
            if (!locks_.try_lock(*id)) continue;
            storage::session_info current;
            std::string outcome;
            if (auto info_ec = store_.info(*id, current)) {
                outcome = "ignored: " + info_ec.message();
            } else if (current.metadata.delivery.state != delivery_state::dead_lettered) {
                outcome = std::string("ignored: the delivery is ") +
                          storage::to_string(current.metadata.delivery.state) + ", not dead_lettered";
            } else {
                current.metadata.delivery = delivery::requeue(current.metadata.delivery, system_now_unix());
                if (auto update_ec = store_.update(current.metadata)) {
                    locks_.unlock(*id);
                    spdlog::error("delivery {}: retry request not applied ({}): {}; tried at the next poll",
                                  *id, session_dir(*id), update_ec.message());
                    continue;  // the request file stays
                }
                outcome = "dead_lettered -> finalised, re-driven now";
                requeued.push_back(*id);
            }
            locks_.unlock(*id);
            std::error_code ignored;
            fs::remove(path, ignored);
            spdlog::info("delivery {}: retry requested by the operator: {}", *id, outcome);
        }
        return requeued;
    }

    storage::session_store& store_;
    storage::session_locks& locks_;
    blocking_pool& blocking_;
    mutable std::mutex routes_mutex_;  // guards the pointer; the map it points to never changes
    std::shared_ptr<const route_map> routes_;
    outbox_options options_;
    bool polling_ = false;  // retry requests are polled (outbox thread)

    net::io_context context_{1};
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
    std::unique_ptr<delivery::http_client> client_;
    net::steady_timer timer_{context_};
    net::steady_timer poll_timer_{context_};
    std::thread thread_;

    // Only touched on the outbox's thread.
    std::priority_queue<due_entry, std::vector<due_entry>, std::greater<>> queue_;
    std::unordered_set<std::string> known_;  // queued, in flight or with its outcome unwritten
    struct busy_record {
        std::string id;
        delivery::attempt_result result;
        std::string reason;
        delivery::retry_settings retry;
        double unit_random;
        bool copy;
    };
    std::vector<busy_record> busy_records_;  // outcomes waiting for their session's lock
    net::steady_timer record_timer_{context_};
    bool record_timer_armed_ = false;
    std::size_t in_flight_ = 0;
    std::uint64_t next_order_ = 0;
    std::mt19937_64 random_;
    bool stopped_ = false;
};

delivery_outbox::delivery_outbox(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

delivery_outbox::~delivery_outbox() = default;

void delivery_outbox::start() { impl_->start(); }
void delivery_outbox::schedule(const std::string& session_id) { impl_->schedule(session_id); }
void delivery_outbox::stop() { impl_->stop(); }

namespace {

route_map routes_of(const config::settings& settings,
                    const std::vector<std::optional<delivery::delivery_settings>>& per_prefix) {
    route_map routes;
    for (std::size_t i = 0; i < settings.uploads.size() && i < per_prefix.size(); ++i) {
        const auto& upload = settings.uploads[i];
        const auto& n = upload.notification;
        if (!per_prefix[i]) continue;
        outbox_route route;
        route.settings = *per_prefix[i];
        route.retry.initial = std::chrono::seconds(n.retry.initial_s);
        route.retry.max = std::chrono::seconds(n.retry.max_s);
        route.retry.give_up_after = std::chrono::seconds(n.retry.give_up_after_s);
        route.async = n.delivery == config::delivery_mode::async;
        routes.emplace(upload.url_prefix, std::move(route));
    }
    return routes;
}

}  // namespace

void delivery_outbox::apply_routes(const config::settings& settings,
                                   const std::vector<std::optional<delivery::delivery_settings>>& per_prefix) {
    impl_->apply_routes(routes_of(settings, per_prefix));
}

std::unique_ptr<delivery_outbox> make_delivery_outbox(
    const config::settings& settings,
    const std::vector<std::optional<delivery::delivery_settings>>& per_prefix,
    storage::session_store& store, storage::session_locks& locks, blocking_pool& blocking,
    outbox_options options) {
    if (options.retry_requests_dir.empty()) {
        options.retry_requests_dir = settings.data_dir / delivery_outbox::retry_requests_name;
    }
    return std::make_unique<delivery_outbox>(std::make_unique<delivery_outbox::impl>(
        store, locks, blocking, routes_of(settings, per_prefix), std::move(options)));
}

}  // namespace bitsd::server
