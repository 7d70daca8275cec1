#pragma once
// metadata.json: the on-disk form of session_metadata. Versioned so a later layout can be told
// apart; anything that does not decode cleanly is corrupt, never guessed at.

#include "storage/session_record.hpp"

#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::storage {

inline constexpr int metadata_version = 1;

// The JSON text to store. Fails (illegal_byte_sequence) when a string field is not UTF-8,
// rather than storing a silently altered destination.
std::error_code encode_metadata(const session_metadata& metadata, std::string& out);

// Parses metadata.json text. corrupt_metadata when it is not version-1 metadata.
std::error_code decode_metadata(std::string_view text, session_metadata& out);

}  // namespace bitsd::storage
