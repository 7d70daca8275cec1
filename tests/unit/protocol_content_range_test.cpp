// Content-Range of a Fragment ("bytes <first>-<last>/<total>") and plain decimal header values.
// Rules: bits-protocol.md §2.3 (Content-Range row, server processing) and §8 item 10.

#include "protocol/content_range.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

using bitsd::protocol::content_range;
using bitsd::protocol::parse_content_range;
using bitsd::protocol::parse_decimal;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

struct range_case {
    const char* text;
    std::uint64_t first;
    std::uint64_t last;
    std::uint64_t total;
};

}  // namespace

TEST_CASE("protocol: parse_content_range accepts the valid forms", "[protocol][content_range]") {
    const range_case c = GENERATE(values<range_case>({
        {"bytes 0-4891/4892", 0, 4891, 4892},        // the [WIRE] example
        {"Bytes 0-4891/4892", 0, 4891, 4892},        // [DOCS] spelling
        {"BYTES 0-4891/4892", 0, 4891, 4892},
        {"bYtEs 128-212/213", 128, 212, 213},
        {"bytes   0-4891/4892", 0, 4891, 4892},      // extra spaces after the unit
        {"bytes\t0-4891/4892", 0, 4891, 4892},       // a tab is whitespace too
        {"  bytes 0-4891/4892  ", 0, 4891, 4892},    // surrounding spaces
        {"\tbytes 5-5/6\t", 5, 5, 6},
        {"bytes 0-0/1", 0, 0, 1},                    // one-byte file
        {"bytes 9-9/10", 9, 9, 10},                  // last == total - 1
        {"bytes 0-18446744073709551613/18446744073709551614", 0, u64_max - 2, u64_max - 1},
        {"bytes 0-18446744073709551614/18446744073709551615", 0, u64_max - 1, u64_max},
    }));
    CAPTURE(c.text);
    const auto r = parse_content_range(c.text);
    REQUIRE(r.has_value());
    CHECK(r->first == c.first);
    CHECK(r->last == c.last);
    CHECK(r->total == c.total);
    CHECK(*r == content_range{c.first, c.last, c.total});
}

TEST_CASE("protocol: parse_content_range rejects malformed and inconsistent ranges",
          "[protocol][content_range]") {
    const char* text = GENERATE(values<const char*>({
        "bytes 10-9/10",                       // last < first
        "bytes 5-4/100",
        "bytes 0-10/10",                       // last == total
        "bytes 0-11/10",                       // last > total
        "bytes 0-0/0",                         // empty file cannot have a range
        "bytes 0-9/*",                         // "*" total: not used by BITS
        "bytes */10",                          // unsatisfied-range form
        "bytes */*",
        "0-9/10",                              // missing unit
        " 0-9/10",
        "items 0-1/2",                         // other unit
        "byte 0-1/2",
        "bytesx 0-1/2",
        "bytes -1-9/10",                       // negative
        "bytes 0--1/10",
        "bytes 0-9/-10",
        "bytes +1-9/10",                       // explicit sign
        "bytes 0-+9/10",
        "bytes 0-9/+10",
        "bytes 0-1/99999999999999999999",      // 20 digits: overflows 64 bits
        "bytes 0-99999999999999999999/100",
        "bytes 99999999999999999999-1/2",
        "bytes 0-1/18446744073709551616",      // u64 max + 1
        "bytes 0-1/123456789012345678901234",  // 24 digits
        "bytes 0-1/2x",                        // trailing junk
        "bytes 0-1/2 3",
        "bytes 0-1/2,",
        "bytes 0-1/2/3",
        "bytes 0-1-2/3",
        "bytes 0-1/2;",
        "",                                    // empty
        " ",
        "bytes",
        "bytes ",
        "bytes 0-1/",                          // total missing
        "bytes 0-/2",                          // last missing
        "bytes -1/2",                          // first missing
        "bytes 0 1/2",
        "bytes 0-1 2",
        "bytes 0 -1/2",                        // space inside the range
        "bytes 0- 1/2",
        "bytes 0-1 /2",
        "bytes 0-1/ 2",
        "bytes0-1/2",                          // no space after the unit
        "bytes=0-1/2",
        "bytes:0-1/2",
        "bytes 0x0-0x1/0x2",                   // hex is not decimal
        "bytes 0.0-1/2",
    }));
    CAPTURE(text);
    CHECK_FALSE(parse_content_range(text).has_value());
}

TEST_CASE("protocol: content_range::length counts inclusive bytes", "[protocol][content_range]") {
    CHECK(content_range{0, 4891, 4892}.length() == 4892);
    CHECK(content_range{0, 0, 1}.length() == 1);
    CHECK(content_range{50, 150, 200}.length() == 101);
    CHECK(content_range{128, 212, 213}.length() == 85);
    CHECK(content_range{0, u64_max - 1, u64_max}.length() == u64_max);

    const auto parsed = parse_content_range("bytes 101-150/151");
    REQUIRE(parsed);
    CHECK(parsed->length() == 50);
}

TEST_CASE("protocol: content_range equality compares all three numbers",
          "[protocol][content_range]") {
    const content_range a{1, 2, 3};
    CHECK(a == content_range{1, 2, 3});
    CHECK_FALSE(a == content_range{0, 2, 3});
    CHECK_FALSE(a == content_range{1, 1, 3});
    CHECK_FALSE(a == content_range{1, 2, 4});
}

TEST_CASE("protocol: parse_decimal accepts unsigned decimals with optional surrounding space",
          "[protocol][content_range][parse_decimal]") {
    struct decimal_case {
        const char* text;
        std::uint64_t value;
    };
    const decimal_case c = GENERATE(values<decimal_case>({
        {"0", 0},
        {"1", 1},
        {"4892", 4892},
        {"007", 7},
        {" 12", 12},
        {"12 ", 12},
        {"\t12\t", 12},
        {"  33554432  ", 33554432},
        {"18446744073709551615", u64_max},
        {"000000000000000000000000001", 1},  // leading zeros do not overflow
    }));
    CAPTURE(c.text);
    const auto v = parse_decimal(c.text);
    REQUIRE(v.has_value());
    CHECK(*v == c.value);
}

TEST_CASE("protocol: parse_decimal rejects everything else", "[protocol][content_range][parse_decimal]") {
    const char* text = GENERATE(values<const char*>({
        "",
        " ",
        "\t",
        "-1",
        "+1",
        "-0",
        "1 2",
        "12abc",
        "abc",
        "0x10",
        "1.0",
        "1e3",
        "1,000",
        "18446744073709551616",   // u64 max + 1
        "99999999999999999999",   // 20 digits
        "123456789012345678901234567890",
    }));
    CAPTURE(text);
    CHECK_FALSE(parse_decimal(text).has_value());
}
