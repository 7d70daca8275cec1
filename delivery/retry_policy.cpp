#include "delivery/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace bitsd::delivery {

std::chrono::milliseconds retry_policy::ceiling(std::uint32_t failed_attempts) const noexcept {
    using std::chrono::milliseconds;
    const auto cap = std::chrono::duration_cast<milliseconds>(settings_.max);
    const auto first = std::chrono::duration_cast<milliseconds>(settings_.initial);
    if (first.count() <= 0) return milliseconds(0);
    auto value = first;
    // Doubling stops at the cap, so a delivery that failed a million times does not overflow.
    for (std::uint32_t i = 1; i < failed_attempts && value < cap; ++i) value *= 2;
    return std::min(value, cap);
}

std::chrono::milliseconds retry_policy::delay(std::uint32_t failed_attempts,
                                              double unit_random) const noexcept {
    if (!(unit_random >= 0.0)) unit_random = 0.0;  // also catches NaN
    if (unit_random >= 1.0) unit_random = std::nextafter(1.0, 0.0);
    const auto top = ceiling(failed_attempts).count();
    // Uniform over [0, top]: the ceiling itself is reachable (floor of r * (top + 1)).
    const auto picked = static_cast<std::int64_t>(std::floor(unit_random * static_cast<double>(top + 1)));
    return std::chrono::milliseconds(std::min<std::int64_t>(picked, top));
}

std::int64_t retry_policy::deadline_unix(std::int64_t finalised_unix) const noexcept {
    return finalised_unix + settings_.give_up_after.count();
}

bool retry_policy::gives_up(std::int64_t finalised_unix, std::int64_t now_unix) const noexcept {
    return now_unix >= deadline_unix(finalised_unix);
}

std::int64_t retry_policy::next_attempt_ms(std::int64_t finalised_unix, std::int64_t now_ms,
                                           std::uint32_t failed_attempts,
                                           double unit_random) const noexcept {
    const std::int64_t wanted = now_ms + delay(failed_attempts, unit_random).count();
    return std::min(wanted, deadline_unix(finalised_unix) * 1000);
}

}  // namespace bitsd::delivery
