#pragma once
// The operations keys of the config file: admin_listen, admin_allowed_hosts, log_format,
// access_log_level. Kept apart from json_reader.cpp so the reader only dispatches to them.

#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

namespace bitsd::config {

// Reads `value` into `s` when `key` is one of the operations keys and sets `known`;
// leaves `known` false (and `s` untouched) for any other key.
std::optional<config_error> read_operations_key(const std::string& key, const nlohmann::json& value,
                                                settings& s, bool& known);

// One entry of admin_allowed_hosts: a host name without a port (letters, digits, '-', '_', '.'
// in non-empty labels, at most 253 characters), kept in lower case. The text of the error
// (without the key) when it is not one.
std::optional<std::string> parse_admin_host(const std::string& text, std::string& out);

// "off" turns the admin listener off; anything else must be a "host:port" as for `listen`.
// The text of the error (without the key) when it is neither.
std::optional<std::string> parse_admin_listen(const std::string& text,
                                              std::optional<listen_endpoint>& out);

}  // namespace bitsd::config
