#pragma once
// The running server: the store, the upload service, one listener per endpoint, the expiry
// sweep, the I/O threads and the signals that stop them. main() builds one and runs it.

#include "config/config.hpp"

#include <memory>

namespace bitsd::server {

class daemon {
public:
    // Opens the store and binds every listener; throws std::runtime_error with one clear
    // message when it cannot (start-up is the only place exceptions are used).
    explicit daemon(config::settings settings);
    ~daemon();

    // Runs until SIGINT or SIGTERM. Returns the process exit code.
    int run();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace bitsd::server
