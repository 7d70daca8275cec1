#include "protocol/content_range.hpp"

#include <cctype>
#include <limits>

namespace bitsd::protocol {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Reads digits from the front of s into value; false on no digit or overflow.
bool take_number(std::string_view& s, std::uint64_t& value) noexcept {
    std::size_t i = 0;
    value = 0;
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        const auto digit = static_cast<std::uint64_t>(s[i] - '0');
        if (value > (max - digit) / 10) return false;
        value = value * 10 + digit;
        ++i;
    }
    if (i == 0) return false;
    s.remove_prefix(i);
    return true;
}

bool take_char(std::string_view& s, char c) noexcept {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

}  // namespace

std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept {
    text = trim(text);
    std::uint64_t value = 0;
    if (!take_number(text, value) || !text.empty()) return std::nullopt;
    return value;
}

std::optional<content_range> parse_content_range(std::string_view text) noexcept {
    text = trim(text);
    constexpr std::string_view unit = "bytes";
    if (text.size() <= unit.size()) return std::nullopt;
    for (std::size_t i = 0; i < unit.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != unit[i]) return std::nullopt;
    }
    text.remove_prefix(unit.size());
    if (!is_space(text.front())) return std::nullopt;
    text = trim(text);

    content_range range;
    if (!take_number(text, range.first) || !take_char(text, '-') ||
        !take_number(text, range.last) || !take_char(text, '/') ||
        !take_number(text, range.total) || !text.empty()) {
        return std::nullopt;  // also rejects "*" totals and unsatisfied-range forms
    }
    if (range.first > range.last || range.last >= range.total) return std::nullopt;
    return range;
}

}  // namespace bitsd::protocol
