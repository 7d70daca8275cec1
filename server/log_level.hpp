#pragma once
// The configured log level as spdlog's (at start-up and on every reload).

#include "config/config.hpp"

#include <spdlog/common.h>

namespace bitsd::server {

spdlog::level::level_enum to_spdlog(config::log_level level) noexcept;

}  // namespace bitsd::server
