#include "server/upload_service.hpp"

#include "server/metrics.hpp"
#include "server/session_id_source.hpp"
#include "storage/storage_error.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <system_error>

namespace bitsd::server {
namespace {

using protocol::bits_errc;

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

protocol::session_phase phase_of(storage::session_state state) {
    switch (state) {
    case storage::session_state::receiving: return protocol::session_phase::receiving;
    case storage::session_state::committing: return protocol::session_phase::committing;
    case storage::session_state::closed: return protocol::session_phase::closed;
    case storage::session_state::cancelled: return protocol::session_phase::cancelled;
    }
    return protocol::session_phase::cancelled;
}

protocol::session_view view_of(const storage::session_info& info) {
    protocol::session_view view;
    view.phase = phase_of(info.metadata.state);
    view.target = info.metadata.target;
    view.total = info.metadata.total;
    view.received = info.received;
    view.last_activity_unix = info.last_activity_unix;
    return view;
}

template <typename T>
protocol::outcome<T> failed(protocol::rejection failure) {
    protocol::outcome<T> result;
    result.failure = std::move(failure);
    return result;
}

// How long a session may stay open at most: a session nobody closes stops counting against
// its principal (limits.max_open_sessions_per_client) after this.
std::chrono::seconds longest_session_timeout(const config::settings& settings) {
    std::uint64_t longest = 0;
    for (const auto& upload : settings.uploads) longest = std::max(longest, upload.session_timeout_s);
    if (longest == 0) longest = config::upload_prefix{}.session_timeout_s;
    return std::chrono::seconds(static_cast<std::int64_t>(longest));
}

std::vector<std::uint64_t> sessions_per_user(const config::settings& settings) {
    std::vector<std::uint64_t> out;
    for (const auto& upload : settings.uploads) out.push_back(upload.max_sessions_per_user);
    return out;
}

std::vector<std::string> prefix_names(const config::settings& settings) {
    std::vector<std::string> out;
    for (const auto& upload : settings.uploads) out.push_back(upload.url_prefix);
    return out;
}

}  // namespace

std::shared_ptr<admission_control> make_admission(const config::settings& settings) {
    return std::make_shared<admission_control>(settings.limits, longest_session_timeout(settings),
                                               sessions_per_user(settings), prefix_names(settings));
}

void apply_admission(admission_control& admission, const config::settings& settings) {
    admission.apply(settings.limits, longest_session_timeout(settings), sessions_per_user(settings),
                    prefix_names(settings));
}

protocol::engine_settings engine_settings_from(const config::settings& settings) {
    protocol::engine_settings e;
    e.max_fragment_size = settings.max_fragment_size;
    e.host_id = settings.host_id;
    e.host_id_fallback_timeout_s = settings.host_id_fallback_timeout_s;
    return e;
}

upload_service::upload_service(std::shared_ptr<const config::settings> settings,
                               storage::session_store& store, storage::session_locks& locks,
                               std::shared_ptr<admission_control> admission)
    : settings_holder_(std::move(settings)), settings_(*settings_holder_), store_(store), locks_(locks),
      engine_(engine_settings_from(settings_)),
      admission_(admission ? std::move(admission) : make_admission(settings_)),
      reserve_(settings_.data_dir, settings_.limits.min_free_disk_bytes, settings_.limits.min_free_inodes) {
    for (const auto& upload : settings_.uploads) {
        prefixes_.push_back(upload.url_prefix);
        protocol::upload_rules rules;
        rules.allow_overwrites = upload.allow_overwrites;
        rules.max_upload_size = upload.max_upload_size;
        rules.session_timeout_s = upload.session_timeout_s;
        rules_.push_back(rules);
        // Throws at start-up when a credentials file cannot be used.
        authenticators_.push_back(
            upload.auth.type == config::auth_type::none
                ? nullptr
                : std::make_unique<authenticator>(upload.auth, "uploads[" + std::to_string(rules_.size() - 1) + "].auth"));
    }
}

storage::destination upload_service::destination_of(const protocol::upload_location& where) const {
    return storage::destination{settings_.uploads[where.prefix_index].destination_dir, where.segments};
}

std::optional<storage::destination> upload_service::destination_of(
    const storage::session_metadata& metadata, const config::upload_prefix** upload) const {
    // Recomputed from what is trusted: the session's prefix as configured now, and its target
    // mapped beneath that prefix by today's rules. metadata.destination is never read back
    // for this: whoever can write a session's metadata.json could otherwise name any file.
    const config::upload_prefix* prefix = prefix_named(metadata.url_prefix);
    if (upload != nullptr) *upload = prefix;
    if (prefix == nullptr) return std::nullopt;
    const auto routed = protocol::route("BITS_POST", metadata.target, {metadata.url_prefix});
    if (routed.error || routed.location.path != metadata.target) return std::nullopt;
    return storage::destination{prefix->destination_dir, routed.location.segments};
}

const config::upload_prefix* upload_service::prefix_named(const std::string& url_prefix) const {
    for (const auto& upload : settings_.uploads) {
        if (upload.url_prefix == url_prefix) return &upload;
    }
    return nullptr;
}

std::string upload_service::storage_path(const std::optional<std::string>& session_id,
                                         const std::filesystem::path& about) const {
    if (!about.empty()) return about.string();
    storage::session_files files;
    if (session_id && !store_.local_files(*session_id, files)) return files.data.parent_path().string();
    return settings_.data_dir.string();
}

protocol::rejection upload_service::from_storage(const std::error_code& ec, const char* what,
                                                 const std::optional<std::string>& session_id,
                                                 const std::filesystem::path& about) const {
    if (ec == storage::storage_errc::session_not_found) return {bits_errc::session_not_found, {}};
    if (ec == storage::storage_errc::destination_exists) return {bits_errc::destination_exists, {}};
    // Every line names what it is about (issue 8 item 7): the destination, or the session's
    // directory in data_dir (data_dir itself before a session has one).
    // Fatal for the client, bytes kept: a Windows client retries a 500 for days.
    if (ec == storage::storage_errc::destination_unusable) {
        spdlog::warn("{} {}: the destination {} can no longer be a file", what, session_id.value_or("-"),
                     storage_path(session_id, about));
        return {bits_errc::destination_unusable, {}};
    }
    if (ec == storage::storage_errc::destination_symlink) {
        spdlog::warn("{} {}: symbolic link at the destination {} refused", what, session_id.value_or("-"),
                     storage_path(session_id, about));
        return {bits_errc::destination_is_link, {}};
    }
    if (storage::is_disk_full(ec)) {
        spdlog::warn("{} {}: out of disk space on {}", what, session_id.value_or("-"), storage_path(session_id, about));
        return {bits_errc::disk_full, {}};
    }
    spdlog::error("{} {}: storage failed on {}: {} ({})", what, session_id.value_or("-"),
                  storage_path(session_id, about), ec.message(), ec.category().name());
    return {bits_errc::internal_error, {}};
}

protocol::response upload_service::reject(const protocol::rejection& failure,
                                          const std::optional<std::string>& echo_session_id) const {
    return engine_.error_response(failure, echo_session_id);
}

protocol::response upload_service::ping(const protocol::packet& ping) { return engine_.ack(ping); }

protocol::response upload_service::create_session(const protocol::packet& create,
                                                  const protocol::upload_location& where) {
    if (const auto ec = reserve_.check()) return reject({ec, {}}, create.sent_session_id);
    const storage::destination destination = destination_of(where);
    // Probed as the commit will resolve it: beneath destination_dir, no link followed.
    storage::destination_status status = storage::destination_status::missing;
    if (const auto ec = storage::probe_destination(destination, status)) {
        return reject(from_storage(ec, "destination", create.session_id, destination.joined()),
                      create.sent_session_id);
    }
    if (status == storage::destination_status::symlink) {
        return reject(from_storage(storage::storage_errc::destination_symlink, "destination",
                                   create.session_id, destination.joined()),
                      create.sent_session_id);
    }
    const auto kind = status == storage::destination_status::directory ? protocol::destination_kind::directory
                      : status == storage::destination_status::file    ? protocol::destination_kind::file
                      : status == storage::destination_status::unusable ? protocol::destination_kind::unusable
                                                                        : protocol::destination_kind::missing;
    if (const auto ec = engine_.decide_create(create, kind, rules_[where.prefix_index])) {
        return reject({ec, {}}, create.sent_session_id);
    }
    if (delivery_ && delivery_->check_deliverable(prefixes_[where.prefix_index], where.path + where.query)) {
        // Its notification could never be built: refused before a byte is uploaded.
        return reject({bits_errc::url_not_deliverable, {}}, create.sent_session_id);
    }
    storage::session_metadata metadata;
    metadata.id = new_session_id();
    metadata.url_prefix = prefixes_[where.prefix_index];
    metadata.target = where.path;
    metadata.destination = destination.joined().string();  // for logs and tools only
    metadata.created_unix = now_unix();
    metadata.owner = create.principal;
    if (const auto ec = store_.create(metadata)) {
        return reject(from_storage(ec, "create", metadata.id), create.sent_session_id);
    }
    metrics::global().session_created();
    spdlog::info("session {} created for {}", metadata.id, where.path);
    return engine_.create_ack(create, metadata.id);
}

protocol::outcome<storage::session_info> upload_service::find(const protocol::packet& request,
                                                              const protocol::upload_location& where,
                                                              protocol::session_view& view) {
    storage::session_info info;
    std::error_code ec = bits_errc::session_not_found;
    bool found = false;
    if (request.session_id_valid) {
        ec = store_.info(*request.session_id, info);
        // Another principal's session is, for this request, a session that does not exist:
        // the same answer after the same lookup, so nothing tells the two apart.
        found = !ec && (info.metadata.owner.empty() || info.metadata.owner == request.principal);
        if (ec && ec != storage::storage_errc::session_not_found &&
            ec != storage::storage_errc::corrupt_metadata) {
            return failed<storage::session_info>(from_storage(ec, "lookup", request.session_id));
        }
    }
    if (found) view = view_of(info);
    if (const auto lookup = engine_.find_session(request, found ? &view : nullptr, where.path,
                                                 rules_[where.prefix_index], now_unix())) {
        return failed<storage::session_info>({lookup, {}});
    }
    protocol::outcome<storage::session_info> result;
    result.value = std::move(info);
    return result;
}

protocol::response upload_service::close_session(const protocol::packet& close,
                                                 const protocol::upload_location& where) {
    protocol::session_view view;
    auto info = find(close, where, view);
    if (!info) return reject(info.failure, close.sent_session_id);
    const auto& delivery = info.value->metadata.delivery;
    if (delivery.state == storage::delivery_state::delivered && !delivery.copy_to_destination &&
        info.value->metadata.state != storage::session_state::committing) {
        // The back-end has the file and asked for no copy: the Close releases it, whatever is
        // stored now (a crash inside an earlier release may have freed the bytes already, or
        // recorded `closed` and left them) and whichever settings the prefix has now.
        if (const auto ec = store_.release(*close.session_id)) {
            return reject(from_storage(ec, "close", close.session_id), close.sent_session_id);
        }
        spdlog::info("session {} closed: delivered to the back-end, nothing copied", *close.session_id);
        return engine_.ack(close);
    }
    const auto action = engine_.decide_close(view);
    if (!action) return reject(action.failure, close.sent_session_id);
    if (*action.value == protocol::close_action::commit) {
        const config::upload_prefix* upload = nullptr;
        const auto destination = destination_of(info.value->metadata, &upload);
        if (!destination) {
            // The session's prefix left the configuration, or its target no longer maps under
            // it: there is no trusted place to deliver to. Refused; the session is kept.
            spdlog::warn("session {}: prefix {} or target {} no longer maps to a destination; "
                         "Close-Session refused",
                         *close.session_id, info.value->metadata.url_prefix, info.value->metadata.target);
            return reject({bits_errc::destination_unusable, {}}, close.sent_session_id);
        }
        if (delivery_ && delivery_->enabled(prefixes_[where.prefix_index]) &&
            info.value->metadata.delivery.state != storage::delivery_state::none) {
            // The upload went to a back-end: it reaches destination_dir only when the back-end
            // asked for it (BITS-Copy-File-To-Destination).
            const auto decision = delivery_->on_close(close, prefixes_[where.prefix_index], info.value->metadata);
            if (decision.action == close_decision::kind::answer) return decision.response;
        }
        if (const auto ec = store_.commit(*close.session_id, *destination, upload->allow_overwrites)) {
            return reject(from_storage(ec, "commit", close.session_id, destination->joined()),
                          close.sent_session_id);
        }
        metrics::global().session_completed();
        spdlog::info("session {} closed: {} bytes committed to {}", *close.session_id,
                     info.value->received, destination->joined().string());
    }
    return engine_.ack(close);
}

std::error_code upload_service::finish_requested_close(const std::string& id) {
    storage::session_info info;
    if (const auto ec = store_.info(id, info)) return ec;
    const auto& metadata = info.metadata;
    if (metadata.delivery.state != storage::delivery_state::delivered ||
        !metadata.delivery.close_requested || metadata.state != storage::session_state::receiving) {
        return {};
    }
    if (!metadata.delivery.copy_to_destination) {
        if (const auto ec = delivery_->release(id)) return ec;
        spdlog::info("session {} closed: delivered to the back-end, nothing copied", id);
        return {};
    }
    const config::upload_prefix* upload = nullptr;
    const auto destination = destination_of(metadata, &upload);
    if (!destination) return bits_errc::destination_unusable;
    if (const auto ec = store_.commit(id, *destination, upload->allow_overwrites)) return ec;
    spdlog::info("session {} closed: delivered, and {} bytes copied to {} as the back-end asked", id,
                 info.received, destination->joined().string());
    return {};
}

protocol::response upload_service::cancel_session(const protocol::packet& cancel,
                                                  const protocol::upload_location& where) {
    protocol::session_view view;
    auto info = find(cancel, where, view);
    if (!info) return reject(info.failure, cancel.sent_session_id);
    if (delivery_ && delivery_->keeps_bytes_on_cancel(info.value->metadata)) {
        // The file is finalised and its delivery promised (async): Cancel comes too late.
        spdlog::info("session {}: Cancel-Session after the file was finalised: delivery goes on",
                     *cancel.session_id);
        return engine_.ack(cancel);
    }
    if (engine_.decide_cancel(view) == protocol::cancel_action::cancel) {
        if (const auto ec = store_.cancel(*cancel.session_id)) {
            return reject(from_storage(ec, "cancel", cancel.session_id), cancel.sent_session_id);
        }
        if (delivery_) delivery_->forget(*cancel.session_id);
        metrics::global().session_cancelled();
        spdlog::info("session {} cancelled", *cancel.session_id);
    }
    return engine_.ack(cancel);
}

protocol::outcome<fragment_transfer> upload_service::begin_fragment(
    const protocol::packet& fragment, const protocol::upload_location& where) {
    protocol::session_view view;
    auto info = find(fragment, where, view);
    if (!info) return failed<fragment_transfer>(info.failure);
    auto plan = engine_.decide_fragment(fragment, view, rules_[where.prefix_index]);
    if (!plan) return failed<fragment_transfer>(plan.failure);
    // Bytes to store while the disk is in its reserve: come back later (a duplicate is still
    // acknowledged, it costs nothing).
    if (plan.value->write > 0) {
        if (const auto ec = reserve_.check()) return failed<fragment_transfer>({ec, {}});
    }

    fragment_transfer transfer;
    transfer.plan = *plan.value;
    if (transfer.plan.record_total && !transfer.plan.session_closed) {
        storage::session_metadata metadata = info.value->metadata;
        metadata.total = transfer.plan.record_total;
        if (const auto ec = store_.update(metadata)) {
            return failed<fragment_transfer>(from_storage(ec, "record total", fragment.session_id));
        }
    }
    if (transfer.plan.write > 0) {
        std::error_code ec;
        transfer.appender = store_.open_append(*fragment.session_id, transfer.plan.offset, ec);
        if (ec || !transfer.appender) {
            return failed<fragment_transfer>(from_storage(ec, "open", fragment.session_id));
        }
        if (delivery_ && delivery_->enabled(prefixes_[where.prefix_index])) {
            transfer.digest = delivery_->digest_for(*fragment.session_id, transfer.plan.offset, ec);
            if (!transfer.digest) {
                transfer.appender.reset();
                return failed<fragment_transfer>(from_storage(ec, "digest", fragment.session_id));
            }
        }
    }
    protocol::outcome<fragment_transfer> result;
    result.value = std::move(transfer);
    return result;
}

fragment_result upload_service::finish_fragment(const protocol::packet& fragment,
                                                fragment_transfer& transfer, std::error_code write_error,
                                                const protocol::upload_location& where,
                                                const request_origin& origin) {
    fragment_result result;
    const bool notifying = delivery_ && delivery_->enabled(prefixes_[where.prefix_index]);
    std::uint64_t received = transfer.plan.offset;
    if (!transfer.appender) {
        // Nothing was written: a duplicate, or a retry after Close-Session.
        result.response = engine_.fragment_ack(fragment, received);
        if (!notifying || transfer.plan.session_closed) return result;
    } else {
        // Sync even after a failed write: the bytes that did land count, and the client resyncs.
        const std::error_code sync_error = transfer.appender->finish();
        received = transfer.appender->offset();
        transfer.appender.reset();
        if (notifying) delivery_->keep_digest(*fragment.session_id, std::move(transfer.digest), received);
        if (write_error || sync_error) {
            result.response = reject(from_storage(write_error ? write_error : sync_error, "write",
                                                  fragment.session_id),
                                     fragment.sent_session_id);
            return result;
        }
        result.response = engine_.fragment_ack(fragment, received);
        if (!notifying) return result;
    }
    // The last byte is durable: finalise, and deliver (sync) or hand over (async).
    if (!fragment.range || received != fragment.range->total) return result;
    return delivery_->on_complete(fragment, prefixes_[where.prefix_index], origin, std::move(result.response));
}

std::size_t upload_service::sweep(std::int64_t now) {
    std::vector<std::string> ids;
    const auto list_ec = store_.list([&](const storage::session_info& info) { ids.push_back(info.metadata.id); });
    if (list_ec) {
        spdlog::warn("sweep: some sessions in {} could not be read: {}", settings_.data_dir.string(),
                     list_ec.message());
    }

    std::size_t removed = 0;
    for (const auto& id : ids) {
        // A session busy with a request is active, so neither expired nor waiting for a
        // commit to be finished: leave it to the next sweep. Never waiting keeps the sweep's
        // work on the sweep's own thread.
        if (!locks_.try_lock(id)) continue;
        storage::session_info current;
        if (!store_.info(id, current)) {
            const config::upload_prefix* upload = nullptr;
            const auto destination = destination_of(current.metadata, &upload);
            const std::uint64_t timeout =
                upload ? upload->session_timeout_s : config::upload_prefix{}.session_timeout_s;
            const bool expired = protocol::is_expired(current.last_activity_unix, now, timeout);
            // A delivery still owed to the back-end outlives the session timeout: at least once.
            bool remove = expired && !storage::delivery_pending(current.metadata.delivery.state);
            if (current.metadata.state == storage::session_state::committing) {
                // Close-Session was received but a crash interrupted the commit: finish it,
                // however long the daemon was down (the client was told nothing yet). Only a
                // commit that cannot be finished and has seen no activity for the timeout is
                // given up, and its temporary copy (if any) goes with it.
                std::error_code ec = bits_errc::destination_unusable;
                if (destination) ec = store_.commit(id, *destination, upload->allow_overwrites);
                if (!ec) {
                    spdlog::info("session {}: interrupted commit finished", id);
                    remove = false;
                } else {
                    spdlog::error("session {}: finishing commit of {} to {} failed: {}{}", id,
                                  current.metadata.target,
                                  destination ? destination->joined().string() : current.metadata.destination,
                                  ec.message(),
                                  expired ? "; given up" : "");
                }
            }
            if (remove && !destination &&
                current.metadata.state == storage::session_state::committing) {
                spdlog::warn("session {}: prefix {} is no longer configured; a temporary copy a "
                             "crash may have left beside its old destination ({}) is not cleaned",
                             id, current.metadata.url_prefix,
                             storage::temporary_name(id));
            }
            if (remove && !store_.remove(id, destination ? &*destination : nullptr)) {
                ++removed;
                if (delivery_) delivery_->forget(id);  // an abandoned upload's running digest
                metrics::global().session_expired();
                spdlog::info("session {} expired after {} s idle: removed", id,
                             now - current.last_activity_unix);
            }
        }
        locks_.unlock(id);
    }
    return removed;
}

}  // namespace bitsd::server
