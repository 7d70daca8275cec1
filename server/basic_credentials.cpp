// The POSIX side of basic_credentials.hpp: OpenSSL's base64 decoder and constant-time compare,
// libxcrypt's crypt_rn() and crypt_checksalt(). Windows has neither library (README "Windows"):
// basic_credentials_windows.cpp, where Basic authentication is refused at config time.
#include "server/basic_credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <crypt.h>

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace bitsd::server {

std::optional<std::string> decode_base64(std::string_view text, std::size_t max_encoded) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > max_encoded) return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool pad_ok = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && !pad_ok) return std::nullopt;
    }
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t padding = 0;
    if (text.back() == '=') ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

bool password_matches(const std::string& password, const std::string& hash) {
    crypt_data data{};
    const char* out = crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
    if (out == nullptr) return false;
    const std::size_t length = std::strlen(out);
    return length == hash.size() && CRYPTO_memcmp(out, hash.data(), length) == 0;
}

bool hash_is_accepted(const std::string& hash) { return crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK; }

namespace {

std::array<unsigned char, 32> random_bytes() {
    std::array<unsigned char, 32> out{};
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("OpenSSL's random generator failed");
    }
    return out;
}

}  // namespace

std::array<unsigned char, 32> keyed_digest(std::string_view text) {
    static const std::array<unsigned char, 32> key = random_bytes();
    std::array<unsigned char, 32> out{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
         text.size(), out.data(), &length);
    return out;
}

std::string dummy_hash(const std::string& like) {
    static const char digits[] = "0123456789abcdef";
    std::string password;
    for (const unsigned char byte : random_bytes()) {
        password.push_back(digits[byte >> 4]);
        password.push_back(digits[byte & 15]);
    }
    crypt_data data{};
    const char* out = crypt_rn(password.c_str(), like.c_str(), &data, sizeof data);
    return out == nullptr || out[0] == '*' ? std::string() : std::string(out);
}

}  // namespace bitsd::server
