#pragma once
// Configuration from environment variables (containers: `-e BITSD_LISTEN=...`). They sit between
// the config file and the flags: flags > environment > file > embedded defaults. An empty
// variable counts as unset (compose files often pass `VAR=` for "not set").

#include "config/config.hpp"

#include <functional>
#include <optional>
#include <string>

namespace bitsd::config {

// Looks a variable up; nullptr when unset. The real one is std::getenv; tests pass their own.
using environment = std::function<const char*(const char* name)>;

// The process environment (std::getenv).
environment process_environment();

// BITSD_CONFIG: the config file to read when --config is not given, or nullopt.
std::optional<std::string> config_file_from(const environment& env);

// Applies BITSD_LISTEN (comma-separated HOST:PORT list, replaces "listen"), BITSD_DATA_DIR
// (as --data-dir), BITSD_LOG_LEVEL, BITSD_LOG_FORMAT, BITSD_ADMIN_LISTEN ("off" or HOST:PORT)
// and BITSD_PUBLIC_BASE_URL over `s`. On error (one line naming the variable) `s` is
// unchanged.
std::optional<config_error> apply_environment(const environment& env, settings& s);

}  // namespace bitsd::config
