#include "server/load_balancer_probe.hpp"

#include "server/readiness.hpp"

namespace bitsd::server {

std::optional<protocol::response> load_balancer_probe(std::string_view method, std::string_view target) {
    if (method != "GET" && method != "HEAD") return std::nullopt;
    if (target.substr(0, target.find('?')) != "/") return std::nullopt;
    protocol::response response;
    if (readiness::global().ready()) return response;
    response.status = 503;
    response.headers.emplace_back("Retry-After", "5");
    return response;
}

}  // namespace bitsd::server
