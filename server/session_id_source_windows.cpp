// Windows counterpart of session_id_source.cpp: the Windows build has no OpenSSL, so the 16
// bytes come from the system's CSPRNG, BCryptGenRandom (bcrypt.dll, which Beast imports too).
#include "server/session_id_source.hpp"

#include "protocol/session_id.hpp"

#include <array>
#include <stdexcept>

#include <windows.h>

#include <bcrypt.h>

namespace bitsd::server {

std::string new_session_id() {
    std::array<std::uint8_t, 16> bytes{};
    if (!BCRYPT_SUCCESS(::BCryptGenRandom(nullptr, bytes.data(), static_cast<ULONG>(bytes.size()),
                                          BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        throw std::runtime_error("the system's random number generator is not available");
    }
    return protocol::format_session_id(bytes);
}

}  // namespace bitsd::server
