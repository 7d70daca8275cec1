#pragma once
// Session ids as storage sees them: the one gate between an id that came off the network and a
// path on disk. Only a braced GUID passes; everything else is "no such session", never a path.

#include <optional>
#include <string>
#include <string_view>

namespace bitsd::storage {

// ASCII upper case; ids compare case-insensitively, so every table keys on this form.
std::string ascii_upper(std::string_view text);

// True for "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (hex digits, either case).
bool is_valid_session_id(std::string_view id) noexcept;

// The canonical (upper-case) id, or nullopt when `id` is not a valid session id.
std::optional<std::string> normalize_session_id(std::string_view id);

// The shard directory name of a valid id: its first two hex digits, lower case.
std::string session_shard(std::string_view valid_id);

}  // namespace bitsd::storage
