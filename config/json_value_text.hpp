#pragma once
// How a config reader shows a wrong value in its one-line error: shared by every reader of the
// config file (json_reader.cpp and the readers of its sections), so messages read alike.

#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace bitsd::config {

// What the user wrote instead, short enough for a one-line message ("an object", "-1",
// "\"abc...\"").
std::string describe_json_value(const nlohmann::json& value);

// "<path>: expected <what>, got <describe_json_value(value)>".
config_error expected_json(const std::string& path, const std::string& what, const nlohmann::json& value);

}  // namespace bitsd::config
