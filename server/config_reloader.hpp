#pragma once
// SIGHUP: read the configuration again (the same file and flags as at start-up), validate it
// as at start-up, and apply what can change at runtime without dropping a connection: a new
// upload_service (prefixes, limits) swapped in through live_service, the log level, and
// whatever subscribed with on_applied. A bad configuration is refused with its reason (naming
// the key) and the running one stays; keys only a restart changes are reported and ignored.

#include "config/config.hpp"
#include "server/live_service.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bitsd::server {

class config_reloader {
public:
    // Reads the configuration; nullopt with the reason (e.g. "bitsd.json: uploads[0].url_prefix:
    // must start and end with '/'") when it is unreadable or invalid.
    using loader = std::function<std::optional<config::settings>(std::string& error)>;
    using observer = std::function<void(const std::shared_ptr<const config::settings>&)>;

    config_reloader(loader load, live_service& live, storage::session_store& store,
                    storage::session_locks& locks);

    // Components built from settings beyond the upload service (delivery, issue 7) register
    // here; each applied configuration is handed to them, on the reloading thread.
    void on_applied(observer o) { observers_.push_back(std::move(o)); }

    // How each new generation is built (the daemon applies the delivery settings and attaches
    // delivery to it before it is put in force). A null result refuses the reload with `error`
    // (e.g. an unreadable signing_secret_file); the factory must then have changed nothing.
    // Default: a plain upload_service.
    using service_factory = std::function<std::shared_ptr<upload_service>(std::shared_ptr<const config::settings>,
                                                                           std::string& error)>;
    void build_services_with(service_factory make) { make_service_ = std::move(make); }

    // Checks run after the configuration was read and validated and before anything is
    // applied (TLS listeners build their new contexts here); an error refuses the reload.
    using checker = std::function<std::optional<std::string>(const config::settings& next)>;
    void check_with(checker c) { checkers_.push_back(std::move(c)); }

    // Never throws. True when the new configuration is in force.
    bool reload();

private:
    loader load_;
    live_service& live_;
    storage::session_store& store_;
    storage::session_locks& locks_;
    std::vector<observer> observers_;
    std::vector<checker> checkers_;
    service_factory make_service_;
};

}  // namespace bitsd::server
