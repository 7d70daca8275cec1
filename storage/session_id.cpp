#include "storage/session_id.hpp"

#include <cstddef>

namespace bitsd::storage {
namespace {

constexpr std::size_t guid_text_length = 38;  // braces + 32 hex digits + 4 dashes

bool is_hex_digit(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string ascii_upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = upper(c);
    return out;
}

bool is_valid_session_id(std::string_view id) noexcept {
    if (id.size() != guid_text_length || id.front() != '{' || id.back() != '}') return false;
    for (std::size_t i = 1; i + 1 < id.size(); ++i) {
        // Dashes sit at fixed places (8-4-4-4-12), so nothing like "..", "/" or "\" can pass.
        const bool dash_place = i == 9 || i == 14 || i == 19 || i == 24;
        if (dash_place ? id[i] != '-' : !is_hex_digit(id[i])) return false;
    }
    return true;
}

std::optional<std::string> normalize_session_id(std::string_view id) {
    if (!is_valid_session_id(id)) return std::nullopt;
    return ascii_upper(id);
}

std::string session_shard(std::string_view valid_id) {
    return std::string{lower(valid_id[1]), lower(valid_id[2])};
}

}  // namespace bitsd::storage
