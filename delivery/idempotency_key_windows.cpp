// Windows counterpart of idempotency_key.cpp: the 128 random bits come from the system's CSPRNG,
// BCryptGenRandom (bcrypt.dll, as for the session ids), since the Windows build has no OpenSSL.
#include "delivery/delivery_attempt.hpp"

#include <windows.h>

#include <bcrypt.h>

namespace bitsd::delivery {

std::string mint_idempotency_key() {
    unsigned char bytes[16];
    if (!BCRYPT_SUCCESS(::BCryptGenRandom(nullptr, bytes, sizeof bytes, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) return {};
    static constexpr char digits[] = "0123456789abcdef";
    std::string key;
    key.reserve(32);
    for (unsigned char b : bytes) {
        key += digits[b >> 4];
        key += digits[b & 0x0f];
    }
    return key;
}

}  // namespace bitsd::delivery
