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

// Where the delivery of a completed upload to its back-end is (issue 7). Persisted with the
// session, so that delivery is a durable state machine: a crash between any two steps leaves a
// state that says what to do next (re-driven on the client's retry, by the outbox, at start-up).
//   none          no notification configured, or the file is not complete yet
//   finalised     the last byte is durable; digest and idempotency key fixed; not tried yet
//   delivering    an attempt is (or was, before a crash) in flight; an unknown outcome is
//                 retried with the same key: at least once, never a new key
//   delivered     the back-end answered 2xx; the stored answer is repeated to the client
//   dead_lettered given up (fatal answer, or retries exhausted: the async outbox's decision)
enum class delivery_state : std::uint8_t { none, finalised, delivering, delivered, dead_lettered };

const char* to_string(delivery_state state) noexcept;
std::optional<delivery_state> delivery_state_from_string(const std::string& text) noexcept;

// A delivery that must still happen: the sweep and expiry never remove such a session.
bool delivery_pending(delivery_state state) noexcept;

// The durable part of one session's delivery. Strings are opaque to storage (it never builds a
// URL or a header from them); the delivery code does.
struct delivery_record {
    delivery_state state = delivery_state::none;
    std::string sha256_base64;     // SHA-256 of the whole file (Repr-Digest), set when finalised
    std::string idempotency_key;   // minted once when finalised; the same on every attempt
    std::uint32_t attempts = 0;    // attempts started (counted before each one goes out)
    std::int64_t finalised_unix = 0;
    std::int64_t next_attempt_unix = 0;  // async outbox: not before this time
    std::string last_error;        // one line: why the last attempt failed
    // Where the client sent the upload, to rebuild the notification and the reply URL after a
    // restart: the request's scheme, its Host header, and its target with the query string.
    std::string upload_scheme;
    std::string upload_host;
    std::string upload_target;     // as the client sent it, with query
    // After a 2xx: the absolute BITS-Reply-URL (empty when the back-end gave none we serve)
    // and whether the back-end asked for BITS-Copy-File-To-Destination.
    std::string reply_url;
    bool copy_to_destination = false;
    // The failure Ack of the last attempt, repeated to a client whose final fragment comes
    // again while nothing newer is known (0 = none stored).
    unsigned failed_status = 0;
    std::uint32_t failed_hresult = 0;
    // Async: Close-Session arrived while the delivery was still owed; the outbox applies it
    // (copy to the destination or release the bytes) once the back-end has the file.
    bool close_requested = false;
};

// The metadata written atomically (temp file + rename) by the filesystem store.
struct session_metadata {
    std::string id;           // "{GUID}", upper case; lookups are case-insensitive
    std::string url_prefix;   // the upload prefix (config) the session was created under
    std::string target;       // the request path the session belongs to (no query)
    std::string destination;  // the file the upload commits to
    std::optional<std::uint64_t> total;  // file size, known from the first fragment
    session_state state = session_state::receiving;
    std::int64_t created_unix = 0;       // seconds since the epoch
    delivery_record delivery;            // state none without a notification
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
