// mint_idempotency_key (delivery_attempt.hpp) on POSIX: OpenSSL's CSPRNG. A file of its own so
// that the Windows build, which has no OpenSSL, has its counterpart in idempotency_key_windows.cpp.
#include "delivery/delivery_attempt.hpp"

#include <openssl/rand.h>

namespace bitsd::delivery {

std::string mint_idempotency_key() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
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
