#include "server/log_level.hpp"

namespace bitsd::server {

spdlog::level::level_enum to_spdlog(config::log_level level) noexcept {
    using config::log_level;
    switch (level) {
    case log_level::trace: return spdlog::level::trace;
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warn: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::critical: return spdlog::level::critical;
    case log_level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

}  // namespace bitsd::server
