#include "config/environment.hpp"

#include "config/json_reader.hpp"
#include "config/listen_list.hpp"
#include "config/operations_keys.hpp"

#include <cstdlib>
#include <vector>

namespace bitsd::config {

namespace {

// The value, or nullopt when unset or empty.
std::optional<std::string> lookup(const environment& env, const char* name) {
    const char* value = env ? env(name) : nullptr;
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

// "a:1, [::1]:2" -> {"a:1", "[::1]:2"}. Commas never occur inside an endpoint.
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::string::size_type start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        items.push_back(trimmed(text.substr(start, comma == std::string::npos ? std::string::npos
                                                                              : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

}  // namespace

environment process_environment() {
    return [](const char* name) -> const char* { return std::getenv(name); };
}

std::optional<std::string> config_file_from(const environment& env) {
    return lookup(env, "BITSD_CONFIG");
}

std::optional<config_error> apply_environment(const environment& env, settings& s) {
    settings result = s;
    if (const auto listen = lookup(env, "BITSD_LISTEN")) {
        const auto items = split_list(*listen);
        if (auto error = parse_listen_list(items, result.listen)) {
            std::string why = error->why;
            if (items[error->index].empty()) why = "empty entry in the comma-separated list";
            return config_error{"BITSD_LISTEN \"" + *listen + "\": entry " +
                                std::to_string(error->index + 1) + ": " + why};
        }
    }
    if (const auto data_dir = lookup(env, "BITSD_DATA_DIR")) {
        // As --data-dir: an upload list the file did not set follows data_dir (apply_defaults).
        result.data_dir = std::filesystem::u8path(*data_dir);
    }
    if (const auto level_name = lookup(env, "BITSD_LOG_LEVEL")) {
        const auto level = parse_log_level(*level_name);
        if (!level) {
            return config_error{"BITSD_LOG_LEVEL: expected one of trace, debug, info, warn, "
                                "error, critical, off, got \"" + *level_name + "\""};
        }
        result.level = *level;
    }
    if (const auto format_name = lookup(env, "BITSD_LOG_FORMAT")) {
        const auto format = parse_log_format(*format_name);
        if (!format) return config_error{"BITSD_LOG_FORMAT: expected text or json, got \"" + *format_name + "\""};
        result.format = *format;
    }
    if (const auto admin = lookup(env, "BITSD_ADMIN_LISTEN")) {
        if (auto why = parse_admin_listen(*admin, result.admin_listen)) {
            return config_error{"BITSD_ADMIN_LISTEN \"" + *admin + "\": " + *why};
        }
    }
    if (const auto base = lookup(env, "BITSD_PUBLIC_BASE_URL")) {
        if (auto why = read_public_base_url(*base, result.public_base_url)) {
            return config_error{"BITSD_PUBLIC_BASE_URL: " + *why};
        }
    }
    if (const auto hosts = lookup(env, "BITSD_ADMIN_ALLOWED_HOSTS")) {
        const auto items = split_list(*hosts);
        std::vector<std::string> names;
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::string name;
            if (auto why = parse_admin_host(items[i], name)) {
                return config_error{"BITSD_ADMIN_ALLOWED_HOSTS \"" + *hosts + "\": entry " +
                                    std::to_string(i + 1) + ": " + *why};
            }
            names.push_back(std::move(name));
        }
        result.admin_allowed_hosts = std::move(names);
    }
    s = std::move(result);
    return std::nullopt;
}

}  // namespace bitsd::config
