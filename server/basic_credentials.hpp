#pragma once
// What Basic authentication (server/authenticator.cpp) needs from OpenSSL and libxcrypt, in a
// file of its own so that the Windows build, which has neither, can leave it out
// (basic_credentials_windows.cpp): there auth.type "basic" is refused at config time
// (config/platform_support_windows.cpp), so these are never reached.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::server {

// Standard base64 (RFC 4648 4) with padding, as Basic uses; nullopt when malformed or longer
// than max_encoded characters.
std::optional<std::string> decode_base64(std::string_view text, std::size_t max_encoded);

// crypt(3) with the stored hash as setting; true when it reproduces the hash. The comparison is
// constant-time in the hash's content.
bool password_matches(const std::string& password, const std::string& hash);

// A crypt(3) hash that libxcrypt itself does not call weak or unknown (crypt_checksalt).
bool hash_is_accepted(const std::string& hash);

// HMAC-SHA256 of `text` under a key drawn at random once per process: what a verified
// Authorization header is remembered by (credential_cache), so that no password is kept.
std::array<unsigned char, 32> keyed_digest(std::string_view text);

// A hash made with `like`'s method, cost and salt from a random password: checking a password
// against it costs what checking against `like` costs, and never matches. "" when crypt(3)
// refuses `like`.
std::string dummy_hash(const std::string& like);

}  // namespace bitsd::server
