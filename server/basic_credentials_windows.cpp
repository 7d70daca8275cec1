// Windows counterpart of basic_credentials.cpp: no OpenSSL and no libxcrypt there, so Basic
// authentication is refused at config time (config/platform_support_windows.cpp) and these are
// never reached; if they were, they would let nobody in.
#include "server/basic_credentials.hpp"

namespace bitsd::server {

std::optional<std::string> decode_base64(std::string_view, std::size_t) { return std::nullopt; }

bool password_matches(const std::string&, const std::string&) { return false; }

bool hash_is_accepted(const std::string&) { return false; }

std::array<unsigned char, 32> keyed_digest(std::string_view) { return {}; }

std::string dummy_hash(const std::string&) { return {}; }

}  // namespace bitsd::server
