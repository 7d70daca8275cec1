#pragma once
// Glue between the protocol engine and storage: for one request (already parsed), it asks the
// engine what to do, makes storage do it and returns the response. Synchronous; the caller holds
// the session's lock (session_locks) for everything but Ping and Create-Session.
//
// The fragment body itself is streamed by http_connection, between begin_fragment() and
// finish_fragment(), straight into the appender: this class never sees a whole fragment.

#include "config/config.hpp"
#include "protocol/engine.hpp"
#include "server/admission_control.hpp"
#include "server/authenticator.hpp"
#include "server/disk_reserve.hpp"
#include "protocol/upload_path.hpp"
#include "server/delivery_coordinator.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bitsd::server {

// A fragment accepted for streaming: how many body bytes to drop, how many to store.
struct fragment_transfer {
    protocol::fragment_plan plan;
    std::unique_ptr<storage::appender> appender;  // null when nothing is to be written
    // The upload's running SHA-256 when its prefix notifies a back-end: fed exactly the bytes
    // written (the connection does it after each successful write). Null otherwise.
    std::shared_ptr<delivery::content_digest> digest;
};

class reply_server;

// Immutable per configuration: a reload (SIGHUP) builds a new one from the new settings and
// swaps it in (live_service); a request keeps the one it started with until it ends. The store
// and the session locks outlive every generation and are shared by all of them, and so does the
// admission control when one is given (the daemon's: connection and session counts must outlive
// a reload; apply() gives it the new limits). Without one the service counts on its own.
class upload_service {
public:
    upload_service(std::shared_ptr<const config::settings> settings, storage::session_store& store,
                   storage::session_locks& locks, std::shared_ptr<admission_control> admission = nullptr);

    const config::settings& settings() const noexcept { return settings_; }
    const protocol::engine& engine() const noexcept { return engine_; }
    storage::session_locks& locks() noexcept { return locks_; }

    // Delivery to back-ends (issue 7): set on each generation before it is put in force (the
    // coordinator and the reply server outlive every generation); null when no prefix notifies.
    void attach_delivery(delivery_coordinator* delivery, reply_server* replies) noexcept {
        delivery_ = delivery;
        replies_ = replies;
    }
    delivery_coordinator* delivery() const noexcept { return delivery_; }
    reply_server* replies() const noexcept { return replies_; }
    const std::vector<std::string>& url_prefixes() const noexcept { return prefixes_; }
    admission_control& admission() noexcept { return *admission_; }
    // The prefix's authenticator; nullptr when anyone may upload there ("auth" none).
    const authenticator* authenticator_for(std::size_t prefix) const noexcept {
        return prefix < authenticators_.size() ? authenticators_[prefix].get() : nullptr;
    }

    protocol::response ping(const protocol::packet& ping);
    protocol::response create_session(const protocol::packet& create,
                                      const protocol::upload_location& where);
    protocol::response close_session(const protocol::packet& close,
                                     const protocol::upload_location& where);
    protocol::response cancel_session(const protocol::packet& cancel,
                                      const protocol::upload_location& where);

    // Decides a fragment and, when bytes are to be stored, opens the appender. On rejection
    // returns the response to send (the body is then drained or the connection closed).
    protocol::outcome<fragment_transfer> begin_fragment(const protocol::packet& fragment,
                                                        const protocol::upload_location& where);
    // After the body: makes the bytes durable and acknowledges them. `write_error` is the
    // first storage failure met while streaming, if any. When the fragment leaves the file of
    // a notifying prefix complete, the result may carry a sync delivery to run before answering.
    fragment_result finish_fragment(const protocol::packet& fragment, fragment_transfer& transfer,
                                    std::error_code write_error, const protocol::upload_location& where,
                                    const request_origin& origin);

    protocol::response reject(const protocol::rejection& failure,
                              const std::optional<std::string>& echo_session_id) const;

    // Deletes expired sessions and tombstones, and finishes commits a crash interrupted.
    // Returns the number of sessions removed.
    std::size_t sweep(std::int64_t now_unix);

    // The async outbox's end of a Close-Session that came while the delivery was owed
    // (delivery.close_requested): once the back-end has the file, commit it to destination_dir
    // when the back-end asked for it (BITS-Copy-File-To-Destination), else free the bytes. Does
    // nothing for a session not delivered, not close-requested, or already closed. The caller
    // holds the session's lock (a blocking-pool thread).
    std::error_code finish_requested_close(const std::string& id);

private:
    protocol::outcome<storage::session_info> find(const protocol::packet& request,
                                                  const protocol::upload_location& where,
                                                  protocol::session_view& view);
    storage::destination destination_of(const protocol::upload_location& where) const;
    std::optional<storage::destination> destination_of(const storage::session_metadata& metadata,
                                                       const config::upload_prefix** upload) const;
    const config::upload_prefix* prefix_named(const std::string& url_prefix) const;
    // Maps a storage error to the client's answer and logs it naming `about` (a destination)
    // or the session's directory.
    protocol::rejection from_storage(const std::error_code& ec, const char* what,
                                     const std::optional<std::string>& session_id,
                                     const std::filesystem::path& about = {}) const;
    std::string storage_path(const std::optional<std::string>& session_id, const std::filesystem::path& about) const;

    std::shared_ptr<const config::settings> settings_holder_;
    const config::settings& settings_;
    storage::session_store& store_;
    storage::session_locks& locks_;
    protocol::engine engine_;
    std::vector<std::string> prefixes_;
    std::vector<protocol::upload_rules> rules_;
    delivery_coordinator* delivery_ = nullptr;
    reply_server* replies_ = nullptr;
    std::shared_ptr<admission_control> admission_;  // config "limits": connections, sessions per client
    disk_reserve reserve_;         // config "limits": free bytes and inodes kept on data_dir
    std::vector<std::unique_ptr<authenticator>> authenticators_;  // by prefix; null = none
};

// The admission control of `settings` ("limits", max_sessions_per_user), and a reload's update
// of a running one.
std::shared_ptr<admission_control> make_admission(const config::settings& settings);
void apply_admission(admission_control& admission, const config::settings& settings);

// Converts the configured limits into the engine's settings.
protocol::engine_settings engine_settings_from(const config::settings& settings);

}  // namespace bitsd::server
