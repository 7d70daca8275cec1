// Content-Range, decimal header values and session ids: the small parsers that read header
// values byte by byte. An accepted range is well-formed and survives a print/parse round trip;
// an accepted session id is a braced GUID whose canonical form is a fixed point, and the
// protocol and storage gates (two implementations of one rule) agree on every input.

#include "fuzz_check.hpp"

#include "protocol/content_range.hpp"
#include "protocol/session_id.hpp"
#include "storage/session_id.hpp"

#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace bitsd::protocol;

namespace {

bool is_braced_upper_guid(const std::string& id) {
    if (id.size() != 38 || id.front() != '{' || id.back() != '}') return false;
    for (std::size_t i = 1; i < 37; ++i) {
        const char c = id[i];
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            if (c != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(c)) ||
                   std::islower(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (const auto range = parse_content_range(text)) {
        FUZZ_CHECK(range->first <= range->last);
        FUZZ_CHECK(range->last < range->total);
        FUZZ_CHECK(range->length() >= 1);
        const std::string printed = "bytes " + std::to_string(range->first) + "-" +
                                    std::to_string(range->last) + "/" + std::to_string(range->total);
        FUZZ_CHECK(parse_content_range(printed) == range);
    }

    if (const auto number = parse_decimal(text)) {
        FUZZ_CHECK(parse_decimal(std::to_string(*number)) == number);
    }

    const auto id = normalize_session_id(text);
    if (id) {
        FUZZ_CHECK(is_braced_upper_guid(*id));
        FUZZ_CHECK(normalize_session_id(*id) == id);
    }
    FUZZ_CHECK(bitsd::storage::normalize_session_id(text) == id);

    // A session id generated from the fuzzed bytes is always one we accept back.
    if (size >= 16) {
        std::array<std::uint8_t, 16> bytes{};
        for (std::size_t i = 0; i < 16; ++i) bytes[i] = data[i];
        const std::string generated = format_session_id(bytes);
        FUZZ_CHECK(is_braced_upper_guid(generated));
        FUZZ_CHECK(normalize_session_id(generated) == generated);
    }
    return 0;
}
