#include "server/delivery_scheduler.hpp"

#include <spdlog/spdlog.h>

namespace bitsd::server {

void no_delivery_scheduler::schedule(const std::string& session_id) {
    spdlog::info("session {}: finalised for async delivery (no outbox in this build yet)", session_id);
}

}  // namespace bitsd::server
