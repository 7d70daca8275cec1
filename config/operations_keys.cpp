#include "config/operations_keys.hpp"

#include "config/json_value_text.hpp"

#include <nlohmann/json.hpp>

namespace bitsd::config {

using json = nlohmann::json;

const char* to_string(log_format format) noexcept {
    return format == log_format::json ? "json" : "text";
}

std::optional<log_format> parse_log_format(std::string_view name) noexcept {
    if (name == "text") return log_format::text;
    if (name == "json") return log_format::json;
    return std::nullopt;
}

std::optional<std::string> parse_admin_host(const std::string& text, std::string& out) {
    const auto why = [&] {
        return "expected a host name (letters, digits, '-', '_' and '.', no port), got " +
               json(text).dump(-1, ' ', false, json::error_handler_t::replace);
    };
    if (text.empty() || text.size() > 253 || text.front() == '.' || text.back() == '.' ||
        text.find("..") != std::string::npos) {
        return why();
    }
    std::string lower;
    for (const char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '.';
        if (!ok) return why();
        lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    out = std::move(lower);
    return std::nullopt;
}

std::optional<std::string> parse_admin_listen(const std::string& text,
                                              std::optional<listen_endpoint>& out) {
    if (text == "off") {
        out.reset();
        return std::nullopt;
    }
    std::string why;
    auto endpoint = parse_listen(text, why);
    if (!endpoint) return why + " (or \"off\")";
    out = std::move(*endpoint);
    return std::nullopt;
}

std::optional<config_error> read_operations_key(const std::string& key, const json& value,
                                                settings& s, bool& known) {
    known = true;
    if (key == "admin_listen") {
        // null and "off" both turn it off: null reads naturally in JSON, "off" also works
        // where only strings exist (an environment variable, a flag).
        if (value.is_null()) {
            s.admin_listen.reset();
            return std::nullopt;
        }
        if (!value.is_string()) return expected_json(key, "\"host:port\", \"off\" or null", value);
        if (auto why = parse_admin_listen(value.get<std::string>(), s.admin_listen)) {
            return config_error{key + ": " + *why};
        }
        return std::nullopt;
    }
    if (key == "admin_allowed_hosts") {
        if (!value.is_array()) return expected_json(key, "a list of host names", value);
        std::vector<std::string> hosts;
        for (std::size_t i = 0; i < value.size(); ++i) {
            const std::string path = key + "[" + std::to_string(i) + "]";
            if (!value[i].is_string()) return expected_json(path, "a host name", value[i]);
            std::string host;
            if (auto why = parse_admin_host(value[i].get<std::string>(), host)) {
                return config_error{path + ": " + *why};
            }
            hosts.push_back(std::move(host));
        }
        s.admin_allowed_hosts = std::move(hosts);
        return std::nullopt;
    }
    if (key == "log_format") {
        const auto format = value.is_string() ? parse_log_format(value.get<std::string>()) : std::nullopt;
        if (!format) return expected_json(key, "\"text\" or \"json\"", value);
        s.format = *format;
        return std::nullopt;
    }
    if (key == "access_log_level") {
        const auto level = value.is_string() ? parse_log_level(value.get<std::string>()) : std::nullopt;
        if (!level) {
            return expected_json(key, "one of trace, debug, info, warn, error, critical, off", value);
        }
        s.access_log_level = *level;
        return std::nullopt;
    }
    known = false;
    return std::nullopt;
}

}  // namespace bitsd::config
