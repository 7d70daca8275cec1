// The POSIX build has every feature: nothing is refused for the platform (platform_support.hpp).
#include "config/platform_support.hpp"

namespace bitsd::config {

std::optional<config_error> unsupported_upload_setting(const upload_prefix&, const std::string&) {
    return std::nullopt;
}

}  // namespace bitsd::config
