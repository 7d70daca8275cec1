// Durations on the command line (`bitsd sessions purge --older-than`): accepted forms and
// every rejection.

#include "config/duration.hpp"

#include <catch2/catch.hpp>

namespace cfg = bitsd::config;

TEST_CASE("durations: a number with an optional unit", "[config][duration]") {
    std::string why;
    CHECK(cfg::parse_duration_s("0", why) == std::optional<std::uint64_t>(0));
    CHECK(cfg::parse_duration_s("90", why) == std::optional<std::uint64_t>(90));
    CHECK(cfg::parse_duration_s("90s", why) == std::optional<std::uint64_t>(90));
    CHECK(cfg::parse_duration_s("15m", why) == std::optional<std::uint64_t>(900));
    CHECK(cfg::parse_duration_s("12h", why) == std::optional<std::uint64_t>(43200));
    CHECK(cfg::parse_duration_s("30d", why) == std::optional<std::uint64_t>(2592000));
    CHECK(cfg::parse_duration_s("2w", why) == std::optional<std::uint64_t>(1209600));
    CHECK(why.empty());
}

TEST_CASE("durations: everything else is refused with a reason", "[config][duration]") {
    for (const char* bad : {"", "d", "-5", "5x", "5dd", "1.5h", "5 d", " 5", "5D", "1e3",
                            "99999999999999999999999", "3650001d"}) {
        INFO(bad);
        std::string why;
        CHECK_FALSE(cfg::parse_duration_s(bad, why));
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("durations: listings use the largest unit that fits", "[config][duration]") {
    CHECK(cfg::format_duration_s(-3) == "0s");
    CHECK(cfg::format_duration_s(45) == "45s");
    CHECK(cfg::format_duration_s(600) == "10m");
    CHECK(cfg::format_duration_s(3 * 3600) == "3h");
    CHECK(cfg::format_duration_s(5 * 86400) == "5d");
}
