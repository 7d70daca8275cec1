#include "config/auth_reader.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include "config/json_value_text.hpp"

#include <nlohmann/json.hpp>

namespace bitsd::config {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_realm_length = 200;
constexpr std::size_t max_header_length = 100;

bool is_token_char(char c) {  // RFC 9110 tchar: a header name
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

bool is_valid_network(const std::string& text) {
    boost::system::error_code ec;
    if (text.find('/') == std::string::npos) {
        boost::asio::ip::make_address(text, ec);
        return !ec;
    }
    if (text.find(':') != std::string::npos) {
        boost::asio::ip::make_network_v6(text, ec);
    } else {
        boost::asio::ip::make_network_v4(text, ec);
    }
    return !ec;
}

std::optional<config_error> read_auth(const json& value, const std::string& path, auth_settings& out) {
    if (!value.is_object()) return expected_json(path, "an object", value);
    auth_settings auth;
    const json* type = nullptr;
    for (const auto& item : value.items()) {
        if (item.key() == "type") type = &item.value();
    }
    if (type == nullptr) return config_error{path + ".type: is required (\"none\", \"basic\" or \"trusted-header\")"};
    const std::string types = "\"none\", \"basic\" or \"trusted-header\"";
    if (!type->is_string()) return expected_json(path + ".type", types, *type);
    const auto& type_text = type->get_ref<const std::string&>();
    if (type_text == "none") {
        auth.type = auth_type::none;
    } else if (type_text == "basic") {
        auth.type = auth_type::basic;
    } else if (type_text == "trusted-header") {
        auth.type = auth_type::trusted_header;
    } else {
        return expected_json(path + ".type", types, *type);
    }
    bool has_credentials = false;
    bool has_proxies = false;
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const json& field = item.value();
        const std::string key_path = path + "." + key;
        const auto only_for = [&](auth_type t, const char* name) -> std::optional<config_error> {
            if (auth.type != t) return config_error{key_path + ": only valid with \"type\": \"" + name + "\""};
            return std::nullopt;
        };
        if (key == "type") continue;
        if (key == "credentials_file") {
            if (auto e = only_for(auth_type::basic, "basic")) return e;
            if (!field.is_string() || field.get_ref<const std::string&>().empty()) {
                return expected_json(key_path, "a path string", field);
            }
            auth.credentials_file = std::filesystem::u8path(field.get<std::string>());
            has_credentials = true;
        } else if (key == "realm") {
            if (auto e = only_for(auth_type::basic, "basic")) return e;
            if (!field.is_string()) return expected_json(key_path, "a string", field);
            const auto& realm = field.get_ref<const std::string&>();
            if (realm.empty() || realm.size() > max_realm_length) {
                return config_error{key_path + ": must be 1 to " + std::to_string(max_realm_length) + " characters"};
            }
            for (char c : realm) {
                // It goes out inside a quoted string of WWW-Authenticate.
                if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
                    return config_error{key_path + ": must be printable ASCII without '\"' or '\\'"};
                }
            }
            auth.realm = realm;
        } else if (key == "allow_basic_without_tls") {
            if (auto e = only_for(auth_type::basic, "basic")) return e;
            if (!field.is_boolean()) return expected_json(key_path, "true or false", field);
            auth.allow_basic_without_tls = field.get<bool>();
        } else if (key == "header") {
            if (auto e = only_for(auth_type::trusted_header, "trusted-header")) return e;
            if (!field.is_string()) return expected_json(key_path, "a header name", field);
            const auto& name = field.get_ref<const std::string&>();
            bool ok = !name.empty() && name.size() <= max_header_length;
            for (char c : name) ok = ok && is_token_char(c);
            if (!ok) return config_error{key_path + ": must be a header name (letters, digits, '-', at most 100)"};
            auth.header = name;
        } else if (key == "trusted_proxies") {
            if (auto e = only_for(auth_type::trusted_header, "trusted-header")) return e;
            if (!field.is_array() || field.empty()) {
                return expected_json(key_path, "a non-empty array of networks such as \"10.0.0.0/8\"", field);
            }
            for (std::size_t i = 0; i < field.size(); ++i) {
                const std::string item_path = key_path + "[" + std::to_string(i) + "]";
                if (!field[i].is_string()) return expected_json(item_path, "a network such as \"10.0.0.0/8\"", field[i]);
                const auto& text = field[i].get_ref<const std::string&>();
                if (!is_valid_network(text)) {
                    return expected_json(item_path, "a network such as \"10.0.0.0/8\" or an address", field[i]);
                }
                auth.trusted_proxies.push_back(text);
            }
            has_proxies = true;
        } else {
            return config_error{path + ": unknown key " + json(key).dump(-1, ' ', false, json::error_handler_t::replace)};
        }
    }
    if (auth.type == auth_type::basic) {
        if (!has_credentials) return config_error{path + ".credentials_file: is required with \"type\": \"basic\""};
        // Without allow_basic_without_tls a TLS listener is needed: check_basic_needs_tls, once
        // the listeners are known (--listen may replace the file's).
    }
    if (auth.type == auth_type::trusted_header && !has_proxies) {
        return config_error{path + ".trusted_proxies: is required with \"type\": \"trusted-header\""};
    }
    out = std::move(auth);
    return std::nullopt;
}

}  // namespace bitsd::config
