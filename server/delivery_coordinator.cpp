#include "server/delivery_coordinator.hpp"
#include "server/metrics.hpp"
#include "server/upload_service.hpp"

#include "delivery/content_digest.hpp"
#include "delivery/request_signature.hpp"
#include "storage/storage_error.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <utility>

namespace bitsd::server {
namespace {

using protocol::bits_errc;
using storage::delivery_state;

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

delivery_outcome_label outcome_label(const protocol::delivery_verdict& verdict, std::error_code local_error) {
    if (local_error) {
        // Answered 500 and retried, or given up when no retry can help.
        return delivery::is_permanent_local_failure(local_error) ? delivery_outcome_label::failed_fatal
                                                                 : delivery_outcome_label::failed_transient;
    }
    switch (verdict.outcome) {
    case protocol::delivery_outcome::delivered: return delivery_outcome_label::delivered;
    case protocol::delivery_outcome::failed_fatal: return delivery_outcome_label::failed_fatal;
    default: return delivery_outcome_label::failed_transient;
    }
}

// The context of a failed delivery's error Ack (bits-protocol.md Decisions: the back-end's
// answer is the application's, BITS_ERROR_CONTEXT_REMOTE_APPLICATION).
constexpr std::uint32_t context_application = 0x7;

// An async delivery that an outbox gave up on has no failure of a client's own to repeat:
// a fatal answer stops a client that comes back (403, 0x80190000 + 403).
constexpr unsigned given_up_status = 403;
constexpr std::uint32_t given_up_hresult = 0x80190193;

// The reply URL goes back to the client that uploaded: on the public base when configured,
// else on the Host that client sent, or on the listener's address when that Host is none.
std::error_code build_reply_url_for(const config::settings& settings, const storage::delivery_record& d,
                                    const std::string& client_host, const std::string& reply_path,
                                    std::string& out) {
    std::string scheme;
    std::string authority;
    if (!settings.public_base_url.empty() &&
        protocol::parse_public_base_url(settings.public_base_url, scheme, authority)) {
        return protocol::build_reply_url({scheme, authority, d.upload_target}, reply_path, out);
    }
    const auto ec = protocol::build_reply_url({d.upload_scheme, client_host, d.upload_target}, reply_path, out);
    if (ec != protocol::notification_errc::bad_upload_url) return ec;
    return protocol::build_reply_url({d.upload_scheme, d.upload_host, d.upload_target}, reply_path, out);
}

}  // namespace

std::string url_authority(const boost::asio::ip::tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const auto port = std::to_string(endpoint.port());
    if (address.is_v4()) return address.to_string() + ":" + port;
    // A scope id ("%eth0") has no place in a URL's authority without escaping; it is dropped.
    const auto bare = boost::asio::ip::make_address_v6(address.to_v6().to_bytes());
    return "[" + bare.to_string() + "]:" + port;
}

std::optional<std::string> load_delivery_settings(
    const config::settings& settings, std::vector<std::optional<delivery::delivery_settings>>& out) {
    out.clear();
    for (std::size_t i = 0; i < settings.uploads.size(); ++i) {
        const auto& n = settings.uploads[i].notification;
        if (n.type == config::notification_type::none) {
            out.emplace_back();
            continue;
        }
        delivery::delivery_settings d;
        d.type = n.type == config::notification_type::value ? protocol::notification_type::value
                                                            : protocol::notification_type::reference;
        d.url = n.url;
        d.public_base_url = settings.public_base_url;
        d.timeout = std::chrono::seconds(n.timeout_s);
        if (!n.signing_secret_file.empty()) {
            delivery::request_signature signer;
            if (const auto ec = delivery::request_signature::load(n.signing_secret_file.string(), signer)) {
                return "uploads[" + std::to_string(i) + "].notification.signing_secret_file: \"" +
                       n.signing_secret_file.string() + "\": " + ec.message();
            }
            d.signing_secret = signer.secret();
        }
        out.push_back(std::move(d));
    }
    return std::nullopt;
}

delivery_coordinator::delivery_coordinator(std::shared_ptr<const config::settings> settings,
                                           storage::session_store& store, storage::session_locks& locks,
                                           std::vector<std::optional<delivery::delivery_settings>> per_prefix,
                                           delivery_scheduler& scheduler)
    : store_(store),
      locks_(locks),
      scheduler_(scheduler),
      snapshot_(make_snapshot(std::move(settings), std::move(per_prefix))) {}

delivery_coordinator::~delivery_coordinator() = default;

std::string delivery_coordinator::session_dir(const std::string& id) const {
    // Error lines name the session's directory (issue 8 item 7).
    storage::session_files files;
    if (store_.local_files(id, files)) return "(no local directory)";
    return files.data.parent_path().string();
}

std::shared_ptr<const delivery_coordinator::snapshot> delivery_coordinator::make_snapshot(
    std::shared_ptr<const config::settings> settings,
    std::vector<std::optional<delivery::delivery_settings>> per_prefix) {
    auto next = std::make_shared<snapshot>(snapshot{settings, protocol::engine(engine_settings_from(*settings)),
                                                    std::move(per_prefix), false});
    for (const auto& p : next->per_prefix) next->any_enabled = next->any_enabled || p.has_value();
    return next;
}

void delivery_coordinator::apply(std::shared_ptr<const config::settings> settings,
                                 std::vector<std::optional<delivery::delivery_settings>> per_prefix) {
    auto next = make_snapshot(std::move(settings), std::move(per_prefix));
    std::lock_guard<std::mutex> guard(snapshot_mutex_);
    snapshot_.swap(next);
    // The old snapshot is freed here or by the last call still working on it.
}

std::shared_ptr<const delivery_coordinator::snapshot> delivery_coordinator::current() const {
    std::lock_guard<std::mutex> guard(snapshot_mutex_);
    return snapshot_;
}

std::optional<std::size_t> delivery_coordinator::snapshot::notifying(const std::string& url_prefix) const {
    for (std::size_t i = 0; i < settings->uploads.size() && i < per_prefix.size(); ++i) {
        if (settings->uploads[i].url_prefix == url_prefix && per_prefix[i]) return i;
    }
    return std::nullopt;
}

bool delivery_coordinator::snapshot::async(std::size_t prefix_index) const {
    return settings->uploads[prefix_index].notification.delivery == config::delivery_mode::async;
}

bool delivery_coordinator::any_enabled() const { return current()->any_enabled; }

std::error_code delivery_coordinator::check_deliverable(const std::string& url_prefix,
                                                        std::string_view target) const {
    const auto now = current();
    const auto prefix_index = now->notifying(url_prefix);
    if (!prefix_index) return {};
    return delivery::check_deliverable(*now->per_prefix[*prefix_index], target);
}

bool delivery_coordinator::enabled(const std::string& url_prefix) const {
    return current()->notifying(url_prefix).has_value();
}

std::string delivery_coordinator::reply_path(const std::string& session_id) {
    // IIS's "BITS-Sessions\Replies\{GUID}\responsefile.bin", relative to the upload's
    // directory (the [MC-BUP] 4.2 capture); build_reply_url makes it absolute and escapes it.
    return "BITS-Sessions/Replies/" + session_id + "/responsefile.bin";
}

// ---- digest --------------------------------------------------------------------------------

std::shared_ptr<delivery::content_digest> delivery_coordinator::digest_for(const std::string& id,
                                                                           std::uint64_t offset,
                                                                           std::error_code& ec) {
    std::shared_ptr<delivery::content_digest> digest;
    {
        std::lock_guard<std::mutex> guard(mutex_);
        const auto it = digests_.find(id);
        if (it != digests_.end()) {
            digest = std::move(it->second);
            digests_.erase(it);
        }
    }
    if (!digest) digest = std::make_shared<delivery::content_digest>();
    if (digest->bytes() == offset) return digest;
    // A restart, or bytes cut off: hash what the file holds once, then go on streaming.
    digest->reset();
    if (offset == 0) return digest;
    storage::session_files files;
    if ((ec = store_.local_files(id, files))) return {};
    if ((ec = digest->update_from_file(files.data.string(), 0, offset))) return {};
    spdlog::debug("session {}: digest rebuilt from {} bytes on disk", id, offset);
    return digest;
}

void delivery_coordinator::keep_digest(const std::string& id, std::shared_ptr<delivery::content_digest> digest,
                                       std::uint64_t received) {
    if (!digest || digest->bytes() != received) return;  // rebuilt from the file next time
    std::lock_guard<std::mutex> guard(mutex_);
    digests_[id] = std::move(digest);
}

void delivery_coordinator::forget(const std::string& id) {
    std::lock_guard<std::mutex> guard(mutex_);
    digests_.erase(id);
}

// ---- completion ----------------------------------------------------------------------------

std::error_code delivery_coordinator::finalise(const std::string& id, const request_origin& origin,
                                               storage::session_info& info) {
    std::error_code ec;
    auto digest = digest_for(id, info.received, ec);
    if (ec) return ec;
    {
        std::lock_guard<std::mutex> guard(mutex_);
        digests_.erase(id);  // the file is complete: the digest is stored, not kept in memory
    }
    auto& d = info.metadata.delivery;
    d = storage::delivery_record{};
    d.state = delivery_state::finalised;
    d.sha256_base64 = digest->base64();
    d.idempotency_key = delivery::mint_idempotency_key();
    if (d.idempotency_key.empty()) return std::make_error_code(std::errc::resource_unavailable_try_again);
    d.finalised_unix = now_unix();
    d.next_attempt_unix = d.finalised_unix;
    d.upload_scheme = origin.scheme;
    d.upload_host = origin.local;  // never the client's Host: the back-end acts on this record
    d.upload_target = origin.target;
    if ((ec = store_.update(info.metadata))) return ec;
    spdlog::info("session {}: finalised ({} bytes, sha-256 {}, key {})", id, info.received,
                 d.sha256_base64, d.idempotency_key);
    return {};
}

fragment_result delivery_coordinator::on_complete(const protocol::packet& fragment, const std::string& url_prefix,
                                                  const request_origin& origin, protocol::response ack) {
    fragment_result result;
    const auto& id = *fragment.session_id;
    const auto now = current();  // this completion's settings, from start to end
    const auto internal = [&](const std::error_code& ec, const char* what) {
        spdlog::error("session {}: {} ({}): {}", id, what, session_dir(id), ec.message());
        result.response = now->engine.error_response(bits_errc::internal_error, fragment.sent_session_id);
        return result;
    };
    const auto prefix_index = now->notifying(url_prefix);
    if (!prefix_index) {
        // A reload took the prefix's notification away while this fragment ran: it completes
        // as a plain upload would under the new settings (Close-Session commits it).
        spdlog::info("session {}: prefix {} no longer notifies a back-end (reloaded): a plain upload", id,
                     url_prefix);
        result.response = std::move(ack);
        return result;
    }
    storage::session_info info;
    if (const auto ec = store_.info(id, info)) return internal(ec, "reading the session to deliver it");
    auto& d = info.metadata.delivery;
    const auto& settings = *now->per_prefix[*prefix_index];
    if (d.state == delivery_state::none) {
        // This fragment's URL is what the notification names: one that can never be notified
        // is refused now (400, fatal for the job) rather than finalised and failed at every try.
        if (const auto ec = delivery::check_deliverable(settings, origin.target)) {
            spdlog::info("session {}: {} cannot be notified: {}", id, origin.target, ec.message());
            result.response = now->engine.error_response(bits_errc::url_not_deliverable, fragment.sent_session_id);
            return result;
        }
        if (const auto ec = finalise(id, origin, info)) return internal(ec, "finalising");
    }
    const bool async = now->async(*prefix_index);

    if (d.state == delivery_state::delivered || d.state == delivery_state::dead_lettered) {
        result.response = stored_answer(d, ack, fragment.sent_session_id);
        return result;
    }
    if (async) {
        // The outbox delivers; the client is done once the file is durable.
        scheduler_.schedule(id);
        result.response = std::move(ack);
        return result;
    }
    // Sync: one more attempt, with the same key, if one of limits.max_sync_deliveries is free;
    // else busy (transient): the file stays finalised and the client's retry delivers.
    auto slot = take_sync_slot(now->settings->limits.max_sync_deliveries);
    if (!slot) {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
        auto last = last_busy_warning_.load();
        if (seconds - last >= 10 && last_busy_warning_.compare_exchange_strong(last, seconds)) {
            spdlog::warn("session {}: {} sync deliveries in flight (limits.max_sync_deliveries): final "
                         "fragments answered busy (logged at most every 10 s)",
                         id, now->settings->limits.max_sync_deliveries);
        }
        result.response = now->engine.error_response(bits_errc::session_busy, fragment.sent_session_id);
        return result;
    }
    // Counted and made durable first, so that a crash while the back-end answers is known as
    // an attempt that may have arrived.
    d.state = delivery_state::delivering;
    ++d.attempts;
    if (const auto ec = store_.update(info.metadata)) return internal(ec, "recording the attempt");
    storage::session_files files;
    if (const auto ec = store_.local_files(id, files)) return internal(ec, "locating the session's files");

    sync_delivery job;
    job.input.settings = settings;
    job.input.session_id = id;
    job.input.data_file = files.data.string();
    job.input.response_file = files.reply.string();
    job.input.size = info.received;
    job.input.record = d;
    job.success_ack = std::move(ack);
    job.echo_session_id = fragment.sent_session_id;
    job.slot = std::move(slot);
    job.client_host = origin.host;
    result.delivery = std::move(job);
    return result;
}

protocol::response delivery_coordinator::failure_ack(const std::optional<std::string>& echo, unsigned status,
                                                     std::uint32_t hresult, std::uint32_t context) {
    // The shape of every error Ack (engine::error_response) with the back-end's own answer.
    protocol::response r;
    r.status = status;
    r.headers.emplace_back("BITS-Packet-Type", "Ack");
    if (echo) r.headers.emplace_back("BITS-Session-Id", *echo);
    const std::string code = protocol::format_hresult(hresult);
    r.headers.emplace_back("BITS-Error-Code", code);
    r.headers.emplace_back("BITS-Error", code);
    r.headers.emplace_back("BITS-Error-Context", protocol::format_context(context));
    return r;
}

protocol::response delivery_coordinator::stored_answer(const storage::delivery_record& record,
                                                       const protocol::response& ack,
                                                       const std::optional<std::string>& echo) {
    if (record.state == delivery_state::delivered) {
        protocol::response r = ack;
        if (!record.reply_url.empty()) r.headers.emplace_back("BITS-Reply-URL", record.reply_url);
        return r;
    }
    if (record.failed_status != 0) {
        return failure_ack(echo, record.failed_status, record.failed_hresult, context_application);
    }
    return failure_ack(echo, given_up_status, given_up_hresult, context_application);
}

protocol::response delivery_coordinator::record_attempt(const sync_delivery& job,
                                                        const protocol::delivery_verdict& verdict,
                                                        std::error_code local_error) {
    const auto& id = job.input.session_id;
    const auto now = current();
    storage::session_info info;
    if (const auto ec = store_.info(id, info)) {
        spdlog::error("session {}: reading the session after a delivery attempt ({}): {}", id, session_dir(id),
                      ec.message());
        return now->engine.error_response(bits_errc::internal_error, job.echo_session_id);
    }
    auto& d = info.metadata.delivery;
    protocol::response answer;
    if (local_error && delivery::is_permanent_local_failure(local_error)) {
        // No later attempt can build this notification: given up now, and the client stopped.
        d.state = delivery_state::dead_lettered;
        d.last_error = "local: " + local_error.message();
        const auto refusal = protocol::answer_for(make_error_code(bits_errc::url_not_deliverable));
        d.failed_status = refusal.http_status;
        d.failed_hresult = refusal.hresult;
        spdlog::error("session {}: delivery given up on attempt {} ({}): {}", id, d.attempts, session_dir(id),
                      local_error.message());
        answer = now->engine.error_response(bits_errc::url_not_deliverable, job.echo_session_id);
    } else if (local_error) {
        d.state = delivery_state::finalised;
        d.last_error = "local: " + local_error.message();
        spdlog::error("session {}: delivery attempt {} failed here ({}): {}", id, d.attempts, session_dir(id),
                      local_error.message());
        answer = now->engine.error_response(bits_errc::internal_error, job.echo_session_id);
    } else if (verdict.outcome == protocol::delivery_outcome::delivered) {
        d.state = delivery_state::delivered;
        d.last_error.clear();
        d.failed_status = 0;
        d.failed_hresult = 0;
        d.copy_to_destination = verdict.copy_to_destination;
        d.reply_url.clear();
        if (verdict.reply == protocol::reply_source::static_url) {
            d.reply_url = verdict.static_reply_url;
        } else {
            if (const auto ec = build_reply_url_for(*now->settings, d, job.client_host, reply_path(id), d.reply_url)) {
                spdlog::warn("session {}: no reply URL: {}", id, ec.message());
                d.reply_url.clear();
            }
        }
        spdlog::info("session {}: delivered on attempt {} (key {}){}", id, d.attempts, d.idempotency_key,
                     d.copy_to_destination ? "; the back-end asks for the copy to the destination" : "");
        answer = stored_answer(d, job.success_ack, job.echo_session_id);
    } else {
        const bool fatal = verdict.outcome == protocol::delivery_outcome::failed_fatal;
        d.state = fatal ? delivery_state::dead_lettered : delivery_state::finalised;
        d.last_error = verdict.reason;
        d.failed_status = verdict.client_answer.http_status;
        d.failed_hresult = verdict.client_answer.hresult;
        spdlog::warn("session {}: delivery attempt {} failed ({}): {}; the client gets {}", id, d.attempts,
                     fatal ? "fatal" : "transient", verdict.reason, verdict.client_answer.http_status);
        answer = failure_ack(job.echo_session_id, verdict.client_answer.http_status,
                             verdict.client_answer.hresult, verdict.client_answer.context);
    }
    if (const auto ec = store_.update(info.metadata)) {
        // The outcome is not durable: the client must come back, and will deliver again with the
        // same key (the back-end dedupes).
        spdlog::error("session {}: storing the delivery outcome ({}): {}", id, session_dir(id), ec.message());
        return now->engine.error_response(bits_errc::internal_error, job.echo_session_id);
    }
    if (d.state == delivery_state::dead_lettered) metrics::global().delivery_dead_lettered();
    return answer;
}

std::shared_ptr<void> delivery_coordinator::take_sync_slot(std::uint64_t limit) {
    auto count = sync_in_flight_.load();
    do {
        if (count >= limit) return nullptr;
    } while (!sync_in_flight_.compare_exchange_weak(count, count + 1));
    // The counter outlives every job: jobs end before the coordinator (stop() comes first).
    return std::shared_ptr<void>(&sync_in_flight_, [](void* counter) {
        static_cast<std::atomic<std::uint64_t>*>(counter)->fetch_sub(1);
    });
}

void delivery_coordinator::run_sync(boost::asio::io_context& context, blocking_pool::executor_type blocking,
                                    sync_delivery job, std::string held_lock,
                                    std::function<void(protocol::response)> done) {
    auto shared_job = std::make_shared<sync_delivery>(std::move(job));
    const auto started = std::chrono::steady_clock::now();
    delivery::run_delivery_attempt(
        client_for(context), shared_job->input,
        [this, &context, blocking, shared_job, held_lock = std::move(held_lock), started,
         done = std::move(done)](protocol::delivery_verdict verdict, std::error_code local_error) mutable {
            metrics::global().delivery_attempted(delivery_mode_label::sync, outcome_label(verdict, local_error),
                                                 std::chrono::steady_clock::now() - started);
            // Storing the outcome waits for the disk: on the blocking pool, then back here.
            boost::asio::post(blocking, [this, &context, shared_job, held_lock = std::move(held_lock),
                                         done = std::move(done), verdict = std::move(verdict),
                                         local_error]() mutable {
                auto answer = record_attempt(*shared_job, verdict, local_error);
                if (!held_lock.empty()) locks_.unlock(held_lock);
                boost::asio::post(context, [done = std::move(done), answer = std::move(answer)]() mutable {
                    done(std::move(answer));
                });
            });
        });
}

delivery::http_client& delivery_coordinator::client_for(boost::asio::io_context& context) {
    std::lock_guard<std::mutex> guard(mutex_);
    auto& client = clients_[&context];
    if (!client) {
        delivery::http_client_options options;
        // Each request carries its prefix's timeout_s as its overall deadline (at most 299 s);
        // these only bound the parts.
        options.connect_timeout = std::chrono::seconds(30);
        options.response_timeout = std::chrono::seconds(300);
        options.overall_timeout = std::chrono::seconds(300);
        client = std::make_unique<delivery::http_client>(context, options);
    }
    return *client;
}

void delivery_coordinator::stop() {
    std::lock_guard<std::mutex> guard(mutex_);
    for (auto& [context, client] : clients_) client->stop();
    clients_.clear();
}

// ---- Close and Cancel ------------------------------------------------------------------------

close_decision delivery_coordinator::on_close(const protocol::packet& close, const std::string& url_prefix,
                                              const storage::session_metadata& metadata) {
    close_decision decision;
    const auto& d = metadata.delivery;
    const auto now = current();
    const auto& engine = now->engine;
    const auto prefix_index = now->notifying(url_prefix);
    const bool async = prefix_index && now->async(*prefix_index);
    if (d.state == delivery_state::delivered) {
        decision.action = d.copy_to_destination ? close_decision::kind::commit : close_decision::kind::release;
        return decision;
    }
    decision.action = close_decision::kind::answer;
    if (async) {
        // Still the outbox's (or an operator's, dead-lettered): the bytes stay until it is done.
        // The Close is remembered so that the outbox can apply it after the delivery (d2).
        storage::session_metadata updated = metadata;
        if (!updated.delivery.close_requested) {
            updated.delivery.close_requested = true;
            if (const auto ec = store_.update(updated)) {
                spdlog::error("session {}: recording the Close ({}): {}", *close.session_id,
                              session_dir(*close.session_id), ec.message());
                decision.response = engine.error_response(bits_errc::internal_error, close.sent_session_id);
                return decision;
            }
        }
        if (storage::delivery_pending(d.state)) scheduler_.schedule(*close.session_id);
        decision.response = engine.ack(close);
        return decision;
    }
    // Sync, and the final fragment was never answered with success: the client has nothing to
    // close yet. It gets the answer its final fragment would get (the stored failure), or busy.
    if (d.state == delivery_state::dead_lettered || d.failed_status != 0) {
        decision.response = stored_answer(d, engine.ack(close), close.sent_session_id);
    } else {
        decision.response = engine.error_response(bits_errc::session_busy, close.sent_session_id);
    }
    return decision;
}

std::error_code delivery_coordinator::release(const std::string& id) {
    // `closed` is recorded before the bytes go (storage's release): a crash between the two
    // leaves a closed session whose bytes the next Close-Session (or the expiry) frees.
    return store_.release(id);
}

bool delivery_coordinator::keeps_bytes_on_cancel(const storage::session_metadata& metadata) const {
    return storage::delivery_pending(metadata.delivery.state);
}

}  // namespace bitsd::server
