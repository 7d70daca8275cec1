#pragma once
// Reads the "auth" object of an uploads entry (config/auth_settings.hpp).

#include "config/auth_settings.hpp"
#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

namespace bitsd::config {

// Every problem is one error naming the key ("uploads[0].auth.realm: ..."): unknown keys, wrong
// types, keys that do not belong to the chosen type, a missing credentials_file or
// trusted_proxies, a malformed network, Basic without allow_basic_without_tls.
std::optional<config_error> read_auth(const nlohmann::json& value, const std::string& path,
                                      auth_settings& out);

// Parses "10.0.0.0/8", "2001:db8::/32" or a single address; false when malformed.
bool is_valid_network(const std::string& text);

}  // namespace bitsd::config
