#include "server/session_id_source.hpp"

#include "protocol/session_id.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace bitsd::server {

std::string new_session_id() {
    std::array<std::uint8_t, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("the system's random number generator is not available");
    }
    return protocol::format_session_id(bytes);
}

}  // namespace bitsd::server
