#include "storage/session_record.hpp"

namespace bitsd::storage {

// These strings are persisted in metadata.json: changing one breaks every stored session.
const char* to_string(session_state state) noexcept {
    switch (state) {
    case session_state::receiving: return "receiving";
    case session_state::committing: return "committing";
    case session_state::closed: return "closed";
    case session_state::cancelled: return "cancelled";
    }
    return "unknown";
}

std::optional<session_state> session_state_from_string(const std::string& text) noexcept {
    if (text == "receiving") return session_state::receiving;
    if (text == "committing") return session_state::committing;
    if (text == "closed") return session_state::closed;
    if (text == "cancelled") return session_state::cancelled;
    return std::nullopt;
}

// Persisted too: the same warning.
const char* to_string(delivery_state state) noexcept {
    switch (state) {
    case delivery_state::none: return "none";
    case delivery_state::finalised: return "finalised";
    case delivery_state::delivering: return "delivering";
    case delivery_state::delivered: return "delivered";
    case delivery_state::dead_lettered: return "dead_lettered";
    }
    return "unknown";
}

std::optional<delivery_state> delivery_state_from_string(const std::string& text) noexcept {
    if (text == "none") return delivery_state::none;
    if (text == "finalised") return delivery_state::finalised;
    if (text == "delivering") return delivery_state::delivering;
    if (text == "delivered") return delivery_state::delivered;
    if (text == "dead_lettered") return delivery_state::dead_lettered;
    return std::nullopt;
}

bool delivery_pending(delivery_state state) noexcept {
    return state == delivery_state::finalised || state == delivery_state::delivering;
}

}  // namespace bitsd::storage
