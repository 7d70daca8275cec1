#pragma once
// Unguessable session ids: 16 bytes from OpenSSL's CSPRNG, formatted by protocol/.

#include <string>

namespace bitsd::server {

// Throws std::runtime_error only if the CSPRNG cannot be seeded (never silently weak ids).
std::string new_session_id();

}  // namespace bitsd::server
