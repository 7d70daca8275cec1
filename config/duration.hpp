#pragma once
// Durations typed by operators on the command line (`bitsd sessions purge --older-than 30d`):
// a whole number with one unit, s, m, h, d or w; a bare number is seconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::config {

// Seconds, or nullopt with `why` set ("expected a number with a unit s, m, h, d or w, ...").
std::optional<std::uint64_t> parse_duration_s(std::string_view text, std::string& why);

// The other way, for listings: the largest unit that fits ("45s", "12m", "3h", "5d").
std::string format_duration_s(std::int64_t seconds);

}  // namespace bitsd::config
