#include "config/listen_reader.hpp"

#include "config/listen_list.hpp"

#include "config/json_value_text.hpp"

#include <nlohmann/json.hpp>

namespace bitsd::config {

namespace {

using json = nlohmann::json;

config_error unknown_key(const std::string& path, const std::string& key) {
    return config_error{path + ": unknown key " + json(key).dump(-1, ' ', false, json::error_handler_t::replace)};
}

std::optional<config_error> read_tls_path(const json& value, const std::string& path,
                                          std::filesystem::path& out) {
    if (!value.is_string()) return expected_json(path, "a path string", value);
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty()) return config_error{path + ": must not be empty"};
    if (text.find('\0') != std::string::npos) return config_error{path + ": must not contain NUL"};
    out = std::filesystem::u8path(text);
    return std::nullopt;
}

std::optional<config_error> read_tls(const json& value, const std::string& path, tls_files& out) {
    if (!value.is_object()) return expected_json(path, "an object {\"cert\": PATH, \"key\": PATH}", value);
    if (!tls_supported) {
        return config_error{path + ": this bitsd was built without TLS support (BITSD_TLS=OFF); "
                                   "use a plain listener behind a TLS-terminating proxy"};
    }
    tls_files files;
    bool has_cert = false;
    bool has_key = false;
    for (const auto& item : value.items()) {
        const std::string key_path = path + "." + item.key();
        std::optional<config_error> error;
        if (item.key() == "cert") {
            error = read_tls_path(item.value(), key_path, files.cert);
            has_cert = true;
        } else if (item.key() == "key") {
            error = read_tls_path(item.value(), key_path, files.key);
            has_key = true;
        } else {
            return unknown_key(path, item.key());
        }
        if (error) return error;
    }
    if (!has_cert) return config_error{path + ".cert: is required (the PEM certificate chain)"};
    if (!has_key) return config_error{path + ".key: is required (the PEM private key)"};
    out = std::move(files);
    return std::nullopt;
}

// One object entry: its "address" text and its TLS files.
std::optional<config_error> read_entry_object(const json& value, const std::string& path,
                                              std::string& address, std::optional<tls_files>& tls) {
    bool has_address = false;
    for (const auto& item : value.items()) {
        const std::string key_path = path + "." + item.key();
        if (item.key() == "address") {
            if (!item.value().is_string()) return expected_json(key_path, "a \"host:port\" string", item.value());
            address = item.value().get<std::string>();
            has_address = true;
        } else if (item.key() == "tls") {
            tls_files files;
            if (auto error = read_tls(item.value(), key_path, files)) return error;
            tls = std::move(files);
        } else {
            return unknown_key(path, item.key());
        }
    }
    if (!has_address) return config_error{path + ".address: is required (\"host:port\")"};
    return std::nullopt;
}

}  // namespace

std::optional<config_error> read_listen(const json& value, const std::string& path,
                                        std::vector<listen_endpoint>& out) {
    const std::string what = "an array of \"host:port\" strings or {\"address\": ..., \"tls\": ...} objects";
    if (!value.is_array()) return expected_json(path, what, value);
    if (value.empty()) return config_error{path + ": at least one endpoint is required"};
    std::vector<std::string> texts;
    std::vector<std::optional<tls_files>> tls;
    std::vector<bool> is_object;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        std::string address;
        std::optional<tls_files> files;
        if (value[i].is_string()) {
            address = value[i].get<std::string>();
        } else if (value[i].is_object()) {
            if (auto error = read_entry_object(value[i], item_path, address, files)) return error;
        } else {
            return expected_json(item_path, "a \"host:port\" string or an object", value[i]);
        }
        texts.push_back(std::move(address));
        tls.push_back(std::move(files));
        is_object.push_back(value[i].is_object());
    }
    std::vector<listen_endpoint> parsed;
    if (auto error = parse_listen_list(texts, parsed)) {
        std::string why = error->why;
        if (error->duplicate_of) why += " (also " + path + "[" + std::to_string(*error->duplicate_of) + "])";
        const std::string where = path + "[" + std::to_string(error->index) + "]" +
                                  (is_object[error->index] ? ".address" : "");
        return config_error{where + ": " + why};
    }
    for (std::size_t i = 0; i < parsed.size(); ++i) parsed[i].tls = std::move(tls[i]);
    out = std::move(parsed);
    return std::nullopt;
}

std::optional<config_error> check_basic_needs_tls(const settings& s) {
    bool any_tls = false;
    for (const auto& endpoint : s.listen) any_tls = any_tls || endpoint.tls.has_value();
    for (std::size_t i = 0; i < s.uploads.size(); ++i) {
        const auto& auth = s.uploads[i].auth;
        if (auth.type != auth_type::basic || auth.allow_basic_without_tls || any_tls) continue;
        return config_error{"uploads[" + std::to_string(i) +
                            "].auth.allow_basic_without_tls: Basic sends passwords readable by anyone "
                            "on the network and no listener has \"tls\"; add a TLS listener, or set it "
                            "to true only behind a TLS-terminating proxy"};
    }
    return std::nullopt;
}

}  // namespace bitsd::config
