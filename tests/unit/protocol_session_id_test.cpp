// Session ids: a random {GUID} in upper case; looked up case-insensitively.
// Rules: bits-protocol.md "Decisions for bitsd" (Session ids row), §2.2 (BITS-Session-Id row).

#include "protocol/session_id.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

using bitsd::protocol::format_session_id;
using bitsd::protocol::normalize_session_id;

namespace {

using bytes16 = std::array<std::uint8_t, 16>;

bytes16 counting_bytes() {
    bytes16 b{};
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 17 + 3);
    return b;
}

bool is_upper_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// Checks the shape {XXXXXXXX-XXXX-4XXX-[89AB]XXX-XXXXXXXXXXXX}.
void check_shape(const std::string& id) {
    INFO("id: " << id);
    REQUIRE(id.size() == 38);
    CHECK(id.front() == '{');
    CHECK(id.back() == '}');
    for (std::size_t i = 1; i < 37; ++i) {
        INFO("position " << i);
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            CHECK(id[i] == '-');
        } else {
            CHECK(is_upper_hex(id[i]));
        }
    }
    CHECK(id[15] == '4');  // version nibble: random GUID
    const char variant = id[20];
    CHECK((variant == '8' || variant == '9' || variant == 'A' || variant == 'B'));
}

}  // namespace

TEST_CASE("protocol: format_session_id gives a braced upper-case version-4 GUID",
          "[protocol][session_id]") {
    SECTION("all zero bytes") {
        const auto id = format_session_id(bytes16{});
        check_shape(id);
        CHECK(id == "{00000000-0000-4000-8000-000000000000}");
    }
    SECTION("all 0xff bytes") {
        bytes16 b;
        b.fill(0xff);
        const auto id = format_session_id(b);
        check_shape(id);
        CHECK(id == "{FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF}");
    }
    SECTION("byte order is kept") {
        const bytes16 b{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                        0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
        const auto id = format_session_id(b);
        check_shape(id);
        CHECK(id == "{01234567-89AB-4DEF-BEDC-BA9876543210}");
    }
    SECTION("every byte pattern keeps the shape") {
        for (int v = 0; v < 256; ++v) {
            bytes16 b;
            b.fill(static_cast<std::uint8_t>(v));
            check_shape(format_session_id(b));
        }
    }
    SECTION("the result normalizes to itself") {
        const auto id = format_session_id(counting_bytes());
        CHECK(normalize_session_id(id) == id);
    }
}

TEST_CASE("protocol: different random bytes give different session ids", "[protocol][session_id]") {
    const bytes16 base = counting_bytes();
    const std::string base_id = format_session_id(base);
    CHECK(format_session_id(base) == base_id);  // deterministic

    std::set<std::string> seen{base_id};
    // Flip every bit that is not overwritten by the version/variant marks.
    for (std::size_t byte = 0; byte < 16; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            if (byte == 6 && bit >= 4) continue;  // version nibble
            if (byte == 8 && bit >= 6) continue;  // variant bits
            bytes16 b = base;
            b[byte] = static_cast<std::uint8_t>(b[byte] ^ (1u << bit));
            const auto id = format_session_id(b);
            INFO("byte " << byte << " bit " << bit);
            CHECK(id != base_id);
            CHECK(seen.insert(id).second);
        }
    }
    CHECK(seen.size() == 1 + 16 * 8 - 4 - 2);
}

TEST_CASE("protocol: normalize_session_id accepts any case and returns upper case",
          "[protocol][session_id]") {
    struct norm_case {
        const char* text;
        const char* canonical;
    };
    const norm_case c = GENERATE(values<norm_case>({
        {"{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}"},
        {"{a0ff5911-4144-45b3-bf27-27afc8ec8a67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}"},
        {"{a0Ff5911-4144-45B3-bF27-27aFc8Ec8A67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}"},
        {"{00000000-0000-0000-0000-000000000000}", "{00000000-0000-0000-0000-000000000000}"},
        {"{7df0354d-249b-430f-820d-3d2a9bef4931}", "{7DF0354D-249B-430F-820D-3D2A9BEF4931}"},
    }));
    CAPTURE(c.text);
    const auto id = normalize_session_id(c.text);
    REQUIRE(id.has_value());
    CHECK(*id == c.canonical);
}

TEST_CASE("protocol: normalize_session_id rejects wrong lengths and missing braces",
          "[protocol][session_id]") {
    const std::string text = GENERATE(values<std::string>({
        "",
        "{}",
        "0x1234",
        "A0FF5911-4144-45B3-BF27-27AFC8EC8A67",            // missing braces
        "A0FF5911-4144-45B3-BF27-27AFC8EC8A67}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A6}",           // too short
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A677}",         // too long
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}x",
        " {A0FF5911-4144-45B3-BF27-27AFC8EC8A67}",
        "{{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}}",
        "{A0FF5911414445B3BF2727AFC8EC8A67}",              // no dashes
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67-}",
        "{../../etc/passwd}",
    }));
    CAPTURE(text);
    CHECK_FALSE(normalize_session_id(text).has_value());
}

TEST_CASE("protocol: normalize_session_id rejects 38-character impostors",
          "[protocol][session_id]") {
    // Each has the right length, so the test reaches the per-character rules.
    const std::string text = GENERATE(values<std::string>({
        "(A0FF5911-4144-45B3-BF27-27AFC8EC8A67)",          // wrong brackets
        "[A0FF5911-4144-45B3-BF27-27AFC8EC8A67]",
        " A0FF5911-4144-45B3-BF27-27AFC8EC8A67 ",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67 ",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A6G}",          // non-hex
        "{G0FF5911-4144-45B3-BF27-27AFC8EC8A67}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A6 }",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A6-}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A.6}",
        "{0x0FF5911-4144-45B3-BF27-27AFC8EC8A6}",
        "{A0FF591-14144-45B3-BF27-27AFC8EC8A67}",          // misplaced dashes
        "{A0FF5911-414-445B3-BF27-27AFC8EC8A67}",
        "{A0FF5911-4144-45B-3BF27-27AFC8EC8A67}",
        "{A0FF5911-4144-45B3-BF2-727AFC8EC8A67}",
        "{A0FF5911+4144-45B3-BF27-27AFC8EC8A67}",
        "{-A0FF5911-4144-45B3-BF27-27AFC8EC8A6}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A6-}",
        "{------------------------------------}",
        "{../../../../../../../../etc/passwd//}",          // path-like
        "{..\\..\\..\\..\\..\\..\\..\\windows\\win.ini}",
        "{A0FF5911-4144-45B3-BF27-/etc/passwdd}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8%2f}",
        "{A0FF5911-4144-45B3-BF27-....../.....}",
        std::string("{A0FF5911-4144-45B3-BF27-27AFC8EC8A6\0}", 38),
    }));
    CAPTURE(text);
    REQUIRE(text.size() == 38);
    CHECK_FALSE(normalize_session_id(text).has_value());
}
