#include "server/recent_requests.hpp"

namespace bitsd::server {

recent_requests& recent_requests::global() noexcept {
    static recent_requests instance;
    return instance;
}

void recent_requests::add(recent_request request) {
    // Values are capped: the page shows them, and a client controls them.
    for (auto* field : {&request.target, &request.session_id, &request.packet_type, &request.method}) {
        if (field->size() > 512) field->resize(512);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ring_.push_front(std::move(request));
    if (ring_.size() > capacity) ring_.pop_back();
}

std::vector<recent_request> recent_requests::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {ring_.begin(), ring_.end()};
}

}  // namespace bitsd::server
