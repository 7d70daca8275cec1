#pragma once
// The running server: the store, the upload service, one listener per endpoint, the expiry
// sweep, the I/O threads and the signals that stop them. main() builds one and runs it.

#include "config/config.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace bitsd::server {

// Thrown by daemon's constructor when another process (another bitsd) holds data_dir's lock.
class data_dir_in_use : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class daemon {
public:
    // Opens the store and binds every listener; throws std::runtime_error with one clear
    // message when it cannot (start-up is the only place exceptions are used).
    explicit daemon(config::settings settings);
    ~daemon();

    // Runs until SIGINT or SIGTERM, then drains (see README "Stopping and reloading"): 0 after
    // a drain, 128 + N when a second signal N ended it at once.
    int run();

    // SIGHUP reads the configuration again through `load` (the same file and flags as at
    // start-up) and applies what may change at runtime. Without a loader SIGHUP is refused.
    using settings_loader = std::function<std::optional<config::settings>(std::string& error)>;
    void reload_with(settings_loader load);

    // True from the first SIGTERM/SIGINT on: no new connections, requests in flight finishing
    // (readiness probes answer "not ready"). Any thread.
    bool draining() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace bitsd::server
