#pragma once
// Reads the "limits" object of the configuration file (config/abuse_limits.hpp).

#include "config/abuse_limits.hpp"
#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

namespace bitsd::config {

// Unknown keys and values that are not non-negative integers are errors naming the key
// ("limits.max_connections: ..."). Keys left out keep the value already in `out`.
std::optional<config_error> read_limits(const nlohmann::json& value, const std::string& path,
                                        abuse_limits& out);

}  // namespace bitsd::config
