#pragma once
// What storage keeps about one upload session. Storage knows bytes and durability, never HTTP
// or BITS packet types: the fields here are opaque strings and numbers to it.

#include <cstdint>
#include <optional>
#include <string>

namespace bitsd::storage {

// Where a session is in its life. Persisted, so completion is a durable state, not a side
// effect of a request in flight.
enum class session_state : std::uint8_t {
    receiving,   // collecting bytes
    committing,  // commit started: the data is on its way to the destination (redo on reopen)
    closed,      // committed; kept as a tombstone until it expires (a repeated Close answers 200)
    cancelled,   // data deleted; kept as a tombstone until it expires
};

const char* to_string(session_state state) noexcept;
std::optional<session_state> session_state_from_string(const std::string& text) noexcept;

// The metadata written atomically (temp file + rename) by the filesystem store.
struct session_metadata {
    std::string id;           // "{GUID}", upper case; lookups are case-insensitive
    std::string url_prefix;   // the upload prefix (config) the session was created under
    std::string target;       // the request path the session belongs to (no query)
    std::string destination;  // the file the upload commits to
    std::optional<std::uint64_t> total;  // file size, known from the first fragment
    session_state state = session_state::receiving;
    std::int64_t created_unix = 0;       // seconds since the epoch
    // The principal that created the session; only it may use the session. "" (sessions stored
    // before owners were recorded) = anyone.
    std::string owner;
};

// Metadata plus what is derived from the durable bytes themselves.
struct session_info {
    session_metadata metadata;
    std::uint64_t received = 0;        // length of the data actually stored (never from metadata)
    std::int64_t last_activity_unix = 0;  // newest change to data or metadata
};

}  // namespace bitsd::storage
