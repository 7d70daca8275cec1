#pragma once
// `bitsd --check-config` proves the listeners can be had: it binds and listens on every
// endpoint exactly as the daemon would (same options), then releases them at once. A port in
// use, an address the machine does not have or a port below 1024 without the capability is
// then found by the check instead of by the start.

#include "config/config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace bitsd::server {

// nullopt when every endpoint could be bound; else one line naming the first that could not
// ("listen[1] 127.0.0.1:8080: Address already in use").
std::optional<std::string> check_listeners(const std::vector<config::listen_endpoint>& endpoints);

}  // namespace bitsd::server
