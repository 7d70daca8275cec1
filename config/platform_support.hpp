#pragma once
// What the build for this platform cannot do, refused when the configuration is read, with one
// error naming the key: a Windows node never starts with a setting it would silently ignore.
// platform_support_posix.cpp accepts everything; platform_support_windows.cpp refuses what the
// Windows build leaves out (README "Windows": delivery without OpenSSL, Basic without libxcrypt).

#include "config/config.hpp"

#include <optional>
#include <string>

namespace bitsd::config {

// `path` is the entry's key path ("uploads[0]").
std::optional<config_error> unsupported_upload_setting(const upload_prefix& upload, const std::string& path);

}  // namespace bitsd::config
