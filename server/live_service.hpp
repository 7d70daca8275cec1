#pragma once
// The upload_service of the configuration in force. A reload (SIGHUP) replaces it; each request
// takes the current one when it starts and keeps it to its end, so a request in flight finishes
// under the settings it started with while new requests see the new ones.
//
// current() is on the path of every request: it takes no lock. Each thread caches the service
// it last saw with the generation it belonged to; only after a replace() does a thread take the
// mutex once, to pick up the new one.

#include "server/upload_service.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace bitsd::server {

class live_service {
public:
    explicit live_service(std::shared_ptr<upload_service> first);

    std::shared_ptr<upload_service> current() const;
    void replace(std::shared_ptr<upload_service> next);

private:
    const std::uint64_t instance_;  // tells the thread caches of two instances apart
    std::atomic<std::uint64_t> generation_{1};
    mutable std::mutex mutex_;
    std::shared_ptr<upload_service> current_;  // guarded by mutex_
};

}  // namespace bitsd::server
