// The Windows build has no OpenSSL and no libxcrypt (README "Windows"), so what needs them is
// refused here, at config time, naming the key, rather than failing at the first upload:
//   - uploads[].notification: delivery signs, hashes and posts over HTTPS with OpenSSL;
//   - uploads[].auth.type "basic": the password hashes are libxcrypt's crypt(3).
// trusted-header authentication needs neither and is accepted.
#include "config/platform_support.hpp"

namespace bitsd::config {

std::optional<config_error> unsupported_upload_setting(const upload_prefix& upload, const std::string& path) {
    if (upload.notification.type != notification_type::none) {
        return config_error{path + ".notification: delivery to a back-end is not available in the Windows "
                                   "build (no OpenSSL); run bitsd on Linux for notifications"};
    }
    if (upload.auth.type == auth_type::basic) {
        return config_error{path + ".auth.type: \"basic\" is not available in the Windows build (no "
                                   "libxcrypt); use \"trusted-header\" behind a proxy"};
    }
    return std::nullopt;
}

}  // namespace bitsd::config
