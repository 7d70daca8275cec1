#pragma once
// Content-Range of a Fragment: "bytes <first>-<last>/<total>" (RFC 2616 §14.16 form,
// zero-based, inclusive; the unit compared case-insensitively; "*" totals are not BITS).

#include <cstdint>
#include <optional>
#include <string_view>

namespace bitsd::protocol {

struct content_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t total = 0;

    std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const content_range& a, const content_range& b) noexcept {
        return a.first == b.first && a.last == b.last && a.total == b.total;
    }
};

// nullopt when malformed, when first > last or last >= total, or when a number overflows.
std::optional<content_range> parse_content_range(std::string_view text) noexcept;

// Parses an unsigned decimal header value (no sign, no spaces inside, no overflow); surrounding
// optional whitespace is allowed.
std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept;

}  // namespace bitsd::protocol
