#pragma once
// BITS session ids: a random GUID in braces, upper case, e.g.
// {A0FF5911-4144-45B3-BF27-27AFC8EC8A67}. The random bytes come from the caller (a CSPRNG in
// server/), so this stays free of I/O.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::protocol {

// Formats 16 random bytes as a version-4 GUID (RFC 4122 variant bits set) in braces.
std::string format_session_id(const std::array<std::uint8_t, 16>& random_bytes);

// The canonical (upper-case) form of a client-supplied id, or nullopt when it is not a braced
// GUID: ids are looked up case-insensitively and nothing else ever reaches storage.
std::optional<std::string> normalize_session_id(std::string_view text);

}  // namespace bitsd::protocol
