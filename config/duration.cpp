#include "config/duration.hpp"

#include <limits>

namespace bitsd::config {

std::optional<std::uint64_t> parse_duration_s(std::string_view text, std::string& why) {
    why = "expected a whole number with a unit s, m, h, d or w (e.g. 30d, 12h, 90m), got \"" +
          std::string(text) + "\"";
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            why = "too large: \"" + std::string(text) + "\"";
            return std::nullopt;
        }
        value = value * 10 + digit;
    }
    if (i == 0) return std::nullopt;  // no digits (also "-5", "", "d")
    std::uint64_t unit = 1;
    if (i < text.size()) {
        if (i + 1 != text.size()) return std::nullopt;  // "5dd", "1.5h", "5 d"
        switch (text[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return std::nullopt;
        }
    }
    // 100 years, as every *_s key of the configuration.
    constexpr std::uint64_t max_seconds = 100ull * 365 * 24 * 3600;
    if (value > max_seconds / unit) {
        why = "longer than 100 years: \"" + std::string(text) + "\"";
        return std::nullopt;
    }
    why.clear();
    return value * unit;
}

std::string format_duration_s(std::int64_t seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 120) return std::to_string(seconds) + "s";
    if (seconds < 2 * 3600) return std::to_string(seconds / 60) + "m";
    if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

}  // namespace bitsd::config
