// engine::decide_fragment(): offsets, overlap, gaps, totals and size limits of one Fragment.
// Rules: bits-protocol.md §3.4 and "Decisions for bitsd" (overlap, duplicate, gap, total over
// the upload limit, zero-byte file), §3.2 (closed sessions answer a late final fragment).

#include "protocol/engine.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace bitsd::protocol;

namespace {

constexpr const char* sid = "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}";
constexpr const char* path = "/uploads/file.bin";

packet fragment(std::uint64_t first, std::uint64_t last, std::uint64_t total) {
    packet p;
    p.kind = packet_kind::fragment;
    p.range = content_range{first, last, total};
    p.content_length = last - first + 1;
    p.session_id = std::string(sid);
    p.session_id_valid = true;
    return p;
}

session_view session(session_phase phase, std::optional<std::uint64_t> total, std::uint64_t received) {
    session_view s;
    s.phase = phase;
    s.target = path;
    s.total = total;
    s.received = received;
    s.last_activity_unix = 1700000000;
    return s;
}

session_view receiving(std::optional<std::uint64_t> total, std::uint64_t received) {
    return session(session_phase::receiving, total, received);
}

upload_rules rules_with_max(std::uint64_t max_upload_size) {
    upload_rules r;
    r.max_upload_size = max_upload_size;
    return r;
}

std::size_t count_header(const response& r, const std::string& name) {
    return static_cast<std::size_t>(std::count_if(r.headers.begin(), r.headers.end(), [&](const auto& h) {
        if (h.first.size() != name.size()) return false;
        for (std::size_t i = 0; i < name.size(); ++i) {
            if (std::tolower(static_cast<unsigned char>(h.first[i])) !=
                std::tolower(static_cast<unsigned char>(name[i]))) {
                return false;
            }
        }
        return true;
    }));
}

std::optional<std::string> header(const response& r, const std::string& name) {
    for (const auto& h : r.headers) {
        if (h.first.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i) {
            same = std::tolower(static_cast<unsigned char>(h.first[i])) ==
                   std::tolower(static_cast<unsigned char>(name[i]));
        }
        if (same) return h.second;
    }
    return std::nullopt;
}

const engine eng{engine_settings{}};
const upload_rules unlimited{};

}  // namespace

TEST_CASE("protocol: decide_fragment plans the write for every offset case",
          "[protocol][engine][fragment]") {
    struct plan_case {
        const char* name;
        std::optional<std::uint64_t> total;  // session's total
        std::uint64_t received;              // E
        std::uint64_t first, last, frag_total;
        std::uint64_t skip, write, offset;
        std::optional<std::uint64_t> record_total;
    };
    const plan_case c = GENERATE(values<plan_case>({
        {"first fragment, a == E == 0", std::nullopt, 0, 0, 9, 100, 0, 10, 0, 100},
        {"whole file in one fragment", std::nullopt, 0, 0, 4891, 4892, 0, 4892, 0, 4892},
        {"a == E, middle", 100, 10, 10, 19, 100, 0, 10, 10, std::nullopt},
        {"a == E, final", 100, 90, 90, 99, 100, 0, 10, 90, std::nullopt},
        {"partial overlap 0-100 stored, 50-150 arrives", 200, 101, 50, 150, 200, 51, 50, 101, std::nullopt},
        {"overlap by one byte", 100, 10, 9, 19, 100, 1, 10, 10, std::nullopt},
        {"overlap, only the last byte new", 100, 19, 10, 19, 100, 9, 1, 19, std::nullopt},
        {"overlap from 0", 100, 50, 0, 99, 100, 50, 50, 50, std::nullopt},
        {"full duplicate", 200, 101, 0, 100, 200, 101, 0, 101, std::nullopt},
        {"duplicate inside the stored bytes", 200, 101, 20, 30, 200, 11, 0, 101, std::nullopt},
        {"duplicate ending one before E", 200, 101, 90, 100, 200, 11, 0, 101, std::nullopt},
        {"repeated final fragment, not yet closed", 200, 200, 150, 199, 200, 50, 0, 200, std::nullopt},
    }));
    CAPTURE(c.name);
    const auto result = eng.decide_fragment(fragment(c.first, c.last, c.frag_total),
                                            receiving(c.total, c.received), unlimited);
    REQUIRE(result);
    const fragment_plan& p = *result.value;
    CHECK(p.skip == c.skip);
    CHECK(p.write == c.write);
    CHECK(p.offset == c.offset);
    CHECK(p.record_total == c.record_total);
    CHECK_FALSE(p.session_closed);
    CHECK(p.skip + p.write == c.last - c.first + 1);  // the whole body is consumed

    // The Ack after storage did its work: E' = offset + write.
    const auto ack = eng.fragment_ack(fragment(c.first, c.last, c.frag_total), p.offset + p.write);
    CHECK(ack.status == 200);
    CHECK(header(ack, "BITS-Received-Content-Range") ==
          std::optional<std::string>(std::to_string(std::max(c.received, c.last + 1))));
}

TEST_CASE("protocol: a gap (a > E) is 416 with E and no BITS error", "[protocol][engine][fragment]") {
    struct gap_case {
        std::optional<std::uint64_t> total;
        std::uint64_t received;
        std::uint64_t first, last, frag_total;
    };
    const gap_case c = GENERATE(values<gap_case>({
        {std::nullopt, 0, 5, 9, 10},  // nothing stored yet, fragment not at 0
        {100, 10, 11, 19, 100},       // one byte gap
        {100, 10, 20, 29, 100},
        {100, 10, 99, 99, 100},
    }));
    CAPTURE(c.received, c.first);
    const auto result = eng.decide_fragment(fragment(c.first, c.last, c.frag_total),
                                            receiving(c.total, c.received), unlimited);
    REQUIRE_FALSE(result);
    CHECK(result.failure.error == bits_errc::unexpected_offset);
    REQUIRE(result.failure.received.has_value());
    CHECK(*result.failure.received == c.received);

    const auto r = eng.error_response(result.failure, std::optional<std::string>(sid));
    CHECK(r.status == 416);
    CHECK(header(r, "BITS-Packet-Type") == std::optional<std::string>("Ack"));
    CHECK(header(r, "BITS-Received-Content-Range") == std::optional<std::string>(std::to_string(c.received)));
    CHECK(count_header(r, "BITS-Received-Content-Range") == 1);
    CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(sid));
    CHECK(count_header(r, "BITS-Error") == 0);
    CHECK(count_header(r, "BITS-Error-Code") == 0);
    CHECK(count_header(r, "BITS-Error-Context") == 0);
    CHECK(count_header(r, "Content-Length") == 0);
    CHECK_FALSE(r.close_connection);
}

TEST_CASE("protocol: the total may not change between fragments", "[protocol][engine][fragment]") {
    for (std::uint64_t other : {99ull, 101ull, 1000ull}) {
        CAPTURE(other);
        // a == E, a gap and a duplicate alike: the total is checked first.
        for (std::uint64_t first : {0ull, 10ull, 20ull}) {
            CAPTURE(first);
            const auto result = eng.decide_fragment(fragment(first, first + 5, other),
                                                    receiving(100, 10), unlimited);
            REQUIRE_FALSE(result);
            CHECK(result.failure.error == bits_errc::total_changed);
            const auto a = answer_for(result.failure.error);
            CHECK(a.http_status == 400);
            CHECK(a.hresult == 0x80070057);
            CHECK(a.context == 0x5);
        }
    }
}

TEST_CASE("protocol: a total over max_upload_size is 500 BG_E_TOO_LARGE", "[protocol][engine][fragment]") {
    SECTION("over the limit") {
        const auto result = eng.decide_fragment(fragment(0, 9, 1001), receiving(std::nullopt, 0),
                                                rules_with_max(1000));
        REQUIRE_FALSE(result);
        CHECK(result.failure.error == bits_errc::upload_too_large);
        const auto r = eng.error_response(result.failure, std::optional<std::string>(sid));
        CHECK(r.status == 500);
        CHECK(header(r, "BITS-Error") == std::optional<std::string>("0x80200020"));
        CHECK(header(r, "BITS-Error-Code") == std::optional<std::string>("0x80200020"));
        CHECK(header(r, "BITS-Error-Context") == std::optional<std::string>("0x5"));
        CHECK(r.status != 413);  // 413 would only make the client shrink its fragments
    }
    SECTION("exactly the limit is fine") {
        const auto result = eng.decide_fragment(fragment(0, 9, 1000), receiving(std::nullopt, 0),
                                                rules_with_max(1000));
        REQUIRE(result);
        CHECK(result.value->write == 10);
        CHECK(result.value->record_total == std::optional<std::uint64_t>(1000));
    }
    SECTION("0 means no limit") {
        constexpr auto huge = std::numeric_limits<std::uint64_t>::max();
        const auto result = eng.decide_fragment(fragment(0, 9, huge), receiving(std::nullopt, 0),
                                                rules_with_max(0));
        REQUIRE(result);
        CHECK(result.value->record_total == std::optional<std::uint64_t>(huge));
        CHECK(upload_rules{}.max_upload_size == 0);
    }
}

TEST_CASE("protocol: only the first fragment records the total", "[protocol][engine][fragment]") {
    const auto first = eng.decide_fragment(fragment(0, 9, 30), receiving(std::nullopt, 0), unlimited);
    REQUIRE(first);
    CHECK(first.value->record_total == std::optional<std::uint64_t>(30));

    const auto second = eng.decide_fragment(fragment(10, 19, 30), receiving(30, 10), unlimited);
    REQUIRE(second);
    CHECK_FALSE(second.value->record_total.has_value());

    const auto dup = eng.decide_fragment(fragment(0, 9, 30), receiving(30, 10), unlimited);
    REQUIRE(dup);
    CHECK_FALSE(dup.value->record_total.has_value());

    // A gap before anything was stored records nothing: the 416 plan is not a plan.
    const auto gap = eng.decide_fragment(fragment(10, 19, 30), receiving(std::nullopt, 0), unlimited);
    REQUIRE_FALSE(gap);
    CHECK(gap.failure.error == bits_errc::unexpected_offset);
}

TEST_CASE("protocol: a fragment for a closed or committing session writes nothing",
          "[protocol][engine][fragment]") {
    const session_phase phase = GENERATE(session_phase::closed, session_phase::committing);
    CAPTURE(static_cast<int>(phase));
    struct late_case {
        std::uint64_t first, last;
    };
    const late_case c = GENERATE(values<late_case>({{150, 199}, {0, 199}, {0, 9}, {100, 149}}));
    CAPTURE(c.first, c.last);
    const packet f = fragment(c.first, c.last, 200);
    const auto result = eng.decide_fragment(f, session(phase, 200, 200), unlimited);
    REQUIRE(result);
    const fragment_plan& p = *result.value;
    CHECK(p.session_closed);
    CHECK(p.write == 0);
    CHECK(p.skip == c.last - c.first + 1);
    CHECK(p.offset == 200);
    CHECK_FALSE(p.record_total.has_value());

    const auto ack = eng.fragment_ack(f, p.offset + p.write);
    CHECK(ack.status == 200);
    CHECK(header(ack, "BITS-Received-Content-Range") == std::optional<std::string>("200"));
    CHECK(header(ack, "BITS-Packet-Type") == std::optional<std::string>("Ack"));
}

TEST_CASE("protocol: a fragment for a cancelled session finds no session",
          "[protocol][engine][fragment]") {
    for (std::uint64_t received : {0ull, 10ull}) {
        const auto result = eng.decide_fragment(fragment(received, received + 9, 100),
                                                session(session_phase::cancelled, 100, received), unlimited);
        REQUIRE_FALSE(result);
        CHECK(result.failure.error == bits_errc::session_not_found);
        const auto r = eng.error_response(result.failure, std::optional<std::string>(sid));
        CHECK(r.status == 500);
        CHECK(header(r, "BITS-Error") == std::optional<std::string>("0x8020001F"));
        CHECK(header(r, "BITS-Error-Context") == std::optional<std::string>("0x5"));
    }
}

TEST_CASE("protocol: a closed zero-byte session does not acknowledge bytes it never stored",
          "[protocol][engine][fragment]") {
    // Create-Session + Close-Session with no fragment commits an empty file (Decisions table);
    // the closed session has no total and 0 bytes. A later Fragment `bytes 0-9/10` for it names a
    // total (10) different from what was committed (0): §3.4 "T differs from the session's total
    // -> 400". It must not be acknowledged as complete (BITS-Received-Content-Range: 10) while the
    // destination holds 0 bytes, and storage must not be told to record a total on a closed session.
    const session_phase phase = GENERATE(session_phase::closed, session_phase::committing);
    CAPTURE(static_cast<int>(phase));
    const auto result = eng.decide_fragment(fragment(0, 9, 10), session(phase, std::nullopt, 0), unlimited);
    if (result) {
        CHECK(result.value->offset + result.value->write == 0);  // acknowledges nothing it lacks
        CHECK_FALSE(result.value->record_total.has_value());
    } else {
        CHECK(result.failure.error == bits_errc::total_changed);
    }
}

TEST_CASE("protocol: decide_fragment agrees with the offset model exhaustively",
          "[protocol][engine][fragment]") {
    // Model (§3.4): a > E -> 416 E; otherwise skip = min(len, E - a), write = len - skip,
    // offset = E, and the next E is max(E, b + 1).
    std::vector<std::string> mismatches;
    int checked = 0;
    for (std::uint64_t total = 1; total <= 12; ++total) {
        for (std::uint64_t e = 0; e <= total; ++e) {
            for (const bool total_known : {false, true}) {
                if (!total_known && e != 0) continue;  // bytes are stored only after the total is
                const std::optional<std::uint64_t> known =
                    total_known ? std::optional<std::uint64_t>(total) : std::nullopt;
                for (std::uint64_t a = 0; a < total; ++a) {
                    for (std::uint64_t b = a; b < total; ++b) {
                        ++checked;
                        std::ostringstream where;
                        where << "T=" << total << " E=" << e << (total_known ? "" : " (total unknown)")
                              << " [" << a << "," << b << "]";
                        const auto r = eng.decide_fragment(fragment(a, b, total), receiving(known, e),
                                                           unlimited);
                        if (a > e) {
                            if (r || r.failure.error != bits_errc::unexpected_offset ||
                                r.failure.received != std::optional<std::uint64_t>(e)) {
                                mismatches.push_back(where.str() + ": expected 416 with E");
                            }
                            continue;
                        }
                        if (!r) {
                            mismatches.push_back(where.str() + ": unexpected failure");
                            continue;
                        }
                        const std::uint64_t len = b - a + 1;
                        const std::uint64_t skip = std::min(len, e - a);
                        const fragment_plan& p = *r.value;
                        std::optional<std::uint64_t> record;  // (assigned, not ?:, to calm gcc 12)
                        if (!total_known) record = total;
                        if (p.skip != skip || p.write != len - skip || p.offset != e ||
                            p.session_closed || p.offset + p.write != std::max(e, b + 1) ||
                            p.record_total != record) {
                            mismatches.push_back(where.str() + ": wrong plan");
                        }
                    }
                }
            }
        }
    }
    CHECK(checked > 1000);
    INFO("mismatches: " << mismatches.size()
                        << (mismatches.empty() ? std::string() : ", first: " + mismatches.front()));
    CHECK(mismatches.empty());
}
