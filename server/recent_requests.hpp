#pragma once
// The last rejected requests (status 400 and above), for the status page and /api/recent:
// what an operator looks at first when a client "does not upload". A small ring under a mutex,
// touched only when a request is rejected, never on an accepted request's path.

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace bitsd::server {

struct recent_request {
    std::int64_t time_unix = 0;
    std::string client;
    std::string method;
    std::string target;
    std::string packet_type;
    std::string session_id;
    unsigned status = 0;
    std::string error;
};

class recent_requests {
public:
    static constexpr std::size_t capacity = 50;
    static recent_requests& global() noexcept;

    void add(recent_request request);
    // Newest first.
    std::vector<recent_request> snapshot() const;

private:
    mutable std::mutex mutex_;
    std::deque<recent_request> ring_;
};

}  // namespace bitsd::server
