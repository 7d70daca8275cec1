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

}  // namespace bitsd::storage
