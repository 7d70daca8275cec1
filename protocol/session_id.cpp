#include "protocol/session_id.hpp"

#include <cctype>

namespace bitsd::protocol {

std::string format_session_id(const std::array<std::uint8_t, 16>& random_bytes) {
    std::array<std::uint8_t, 16> b = random_bytes;
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4: random
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string id = "{";
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
        id.push_back(digits[b[i] >> 4]);
        id.push_back(digits[b[i] & 0x0f]);
    }
    id.push_back('}');
    return id;
}

std::optional<std::string> normalize_session_id(std::string_view text) {
    // {8-4-4-4-12}: 38 characters with the braces.
    if (text.size() != 38 || text.front() != '{' || text.back() != '}') return std::nullopt;
    std::string id(text);
    for (std::size_t i = 1; i < 37; ++i) {
        const bool dash_position = (i == 9 || i == 14 || i == 19 || i == 24);
        const char c = id[i];
        if (dash_position) {
            if (c != '-') return std::nullopt;
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return std::nullopt;
        } else {
            id[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return id;
}

}  // namespace bitsd::protocol
