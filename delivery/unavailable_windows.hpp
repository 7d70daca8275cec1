#pragma once
// The Windows build has no OpenSSL (README "Windows"), so the digest, the request signature and
// the HTTP(S) client are not built there; their *_windows.cpp files stand in for them and throw
// this if ever called. Nothing calls them: the config reader refuses uploads[].notification in
// the Windows build (config/platform_support_windows.cpp), so no delivery is ever set up.

#include <stdexcept>
#include <string>

namespace bitsd::delivery {

[[noreturn]] inline void unavailable_on_windows(const char* what) {
    throw std::logic_error(std::string(what) +
                           " is not available in the Windows build (no OpenSSL): delivery to a back-end "
                           "is refused there at config time");
}

}  // namespace bitsd::delivery
