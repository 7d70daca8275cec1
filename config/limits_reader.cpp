#include "config/limits_reader.hpp"

#include "config/json_value_text.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace bitsd::config {

namespace {

using json = nlohmann::json;

// Integers only, as everywhere in the file: 1.0, "5", true and negative numbers are refused.
std::optional<config_error> read_count(const json& value, const std::string& path, std::uint64_t min,
                                       std::uint64_t& out) {
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() < min) {
        return config_error{path + ": expected " +
                            (min == 0 ? "a non-negative integer" : "a positive integer") + ", got " +
                            describe_json_value(value)};
    }
    out = value.get<std::uint64_t>();
    return std::nullopt;
}

}  // namespace

std::optional<config_error> read_limits(const json& value, const std::string& path, abuse_limits& out) {
    if (!value.is_object()) return config_error{path + ": expected an object, got " + describe_json_value(value)};
    abuse_limits limits = out;
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const std::string key_path = path + "." + key;
        std::optional<config_error> error;
        if (key == "max_connections") {
            // 0 would refuse every connection: a typo, not a configuration.
            error = read_count(item.value(), key_path, 1, limits.max_connections);
        } else if (key == "max_connections_per_client") {
            error = read_count(item.value(), key_path, 0, limits.max_connections_per_client);
        } else if (key == "max_admin_connections") {
            // 0 would refuse every admin connection: turn admin_listen off for that.
            error = read_count(item.value(), key_path, 1, limits.max_admin_connections);
        } else if (key == "max_open_sessions_per_client") {
            error = read_count(item.value(), key_path, 0, limits.max_open_sessions_per_client);
        } else if (key == "create_sessions_per_minute_per_client") {
            error = read_count(item.value(), key_path, 0, limits.create_sessions_per_minute_per_client);
        } else if (key == "max_sync_deliveries") {
            // 0 would refuse every sync delivery: a typo, not a configuration.
            error = read_count(item.value(), key_path, 1, limits.max_sync_deliveries);
        } else if (key == "min_free_disk_bytes") {
            error = read_count(item.value(), key_path, 0, limits.min_free_disk_bytes);
        } else if (key == "min_free_inodes") {
            error = read_count(item.value(), key_path, 0, limits.min_free_inodes);
        } else if (key == "auth_failures_per_minute_per_client") {
            error = read_count(item.value(), key_path, 0, limits.auth_failures_per_minute_per_client);
        } else {
            return config_error{path + ": unknown key " +
                                json(key).dump(-1, ' ', false, json::error_handler_t::replace)};
        }
        if (error) return error;
    }
    out = limits;
    return std::nullopt;
}

}  // namespace bitsd::config
