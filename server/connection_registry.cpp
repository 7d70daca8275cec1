#include "server/connection_registry.hpp"

#include <utility>

namespace bitsd::server {

connection_registry::entry connection_registry::add(std::weak_ptr<http_connection> connection) {
    std::lock_guard<std::mutex> guard(mutex_);
    return connections_.insert(connections_.end(), std::move(connection));
}

void connection_registry::remove(entry e) {
    std::lock_guard<std::mutex> guard(mutex_);
    connections_.erase(e);
}

std::size_t connection_registry::size() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return connections_.size();
}

std::vector<std::shared_ptr<http_connection>> connection_registry::connections() const {
    std::vector<std::shared_ptr<http_connection>> result;
    std::lock_guard<std::mutex> guard(mutex_);
    result.reserve(connections_.size());
    for (const auto& weak : connections_) {
        if (auto strong = weak.lock()) result.push_back(std::move(strong));
    }
    return result;
}

}  // namespace bitsd::server
