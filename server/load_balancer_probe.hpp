#pragma once
// GET / and HEAD / on an upload listener: the answer a load balancer or an orchestrator's
// HTTP check can use without knowing BITS (BITS itself only sends BITS_POST, so nothing
// collides): 200 while the daemon takes new work, 503 with Retry-After while it starts or
// drains. Empty body, like every other answer of the upload listener.

#include "protocol/engine.hpp"

#include <optional>
#include <string_view>

namespace bitsd::server {

// The answer when the request is such a probe; nullopt for every other request.
std::optional<protocol::response> load_balancer_probe(std::string_view method, std::string_view target);

}  // namespace bitsd::server
