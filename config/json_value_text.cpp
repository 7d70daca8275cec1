#include "config/json_value_text.hpp"

#include <nlohmann/json.hpp>

namespace bitsd::config {

std::string describe_json_value(const nlohmann::json& value) {
    if (value.is_object()) return "an object";
    if (value.is_array()) return "an array";
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return text;
}

config_error expected_json(const std::string& path, const std::string& what, const nlohmann::json& value) {
    return config_error{path + ": expected " + what + ", got " + describe_json_value(value)};
}

}  // namespace bitsd::config
