// Session lookup and the session-level decisions: find_session, decide_create, decide_close,
// decide_cancel. Rules: bits-protocol.md §3.2, §3.3 step 5, §3.5 and "Decisions for bitsd"
// (zero-byte file, Close before all bytes, repeated Close, Cancel of a closed session,
// unknown session, destination exists).

#include "protocol/engine.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>

using namespace bitsd::protocol;

namespace {

constexpr const char* sid = "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}";
constexpr const char* path = "/uploads/file.bin";
constexpr std::int64_t t0 = 1700000000;

packet session_packet(packet_kind kind, bool valid = true) {
    packet p;
    p.kind = kind;
    p.session_id = std::string(valid ? sid : "not-a-guid");
    p.session_id_valid = valid;
    if (kind == packet_kind::fragment) {
        p.range = content_range{0, 9, 10};
        p.content_length = 10;
    }
    return p;
}

session_view session(session_phase phase, std::optional<std::uint64_t> total = std::nullopt,
                     std::uint64_t received = 0) {
    session_view s;
    s.phase = phase;
    s.target = path;
    s.total = total;
    s.received = received;
    s.last_activity_unix = t0;
    return s;
}

upload_rules rules_with_timeout(std::uint64_t timeout_s) {
    upload_rules r;
    r.session_timeout_s = timeout_s;
    return r;
}

void check_answer(const std::error_code& ec, unsigned status, std::uint32_t hresult) {
    const auto a = answer_for(ec);
    CHECK(a.http_status == status);
    CHECK(a.hresult == hresult);
    CHECK(a.context == (hresult == 0 ? 0u : 0x5u));
}

const engine eng{engine_settings{}};

}  // namespace

TEST_CASE("protocol: find_session", "[protocol][engine][session]") {
    const upload_rules rules = rules_with_timeout(3600);
    const session_view s = session(session_phase::receiving);
    const packet_kind kind =
        GENERATE(packet_kind::fragment, packet_kind::close_session, packet_kind::cancel_session);
    CAPTURE(static_cast<int>(kind));
    const packet p = session_packet(kind);

    SECTION("a live session on its own path is found") {
        CHECK_FALSE(eng.find_session(p, &s, path, rules, t0));
        CHECK_FALSE(eng.find_session(p, &s, path, rules, t0 + 1));
        CHECK_FALSE(eng.find_session(p, &s, path, rules, t0 - 100));  // clock went back a little
    }
    SECTION("every phase is found; the decide_* functions judge the phase") {
        for (auto phase : {session_phase::receiving, session_phase::committing, session_phase::closed,
                           session_phase::cancelled}) {
            const session_view any = session(phase);
            CHECK_FALSE(eng.find_session(p, &any, path, rules, t0));
        }
    }
    SECTION("no stored session -> session_not_found") {
        const auto ec = eng.find_session(p, nullptr, path, rules, t0);
        CHECK(ec == bits_errc::session_not_found);
        check_answer(ec, 500, 0x8020001F);
    }
    SECTION("a malformed id -> session_not_found, even if storage returned something") {
        const packet bad = session_packet(kind, false);
        CHECK(eng.find_session(bad, &s, path, rules, t0) == bits_errc::session_not_found);
        CHECK(eng.find_session(bad, nullptr, path, rules, t0) == bits_errc::session_not_found);
    }
    SECTION("a session of another path -> session_not_found") {
        for (const char* other : {"/uploads/other.bin", "/uploads/file.bin2", "/uploads/FILE.BIN",
                                  "/other/file.bin", "/uploads/file.bi", ""}) {
            CAPTURE(other);
            CHECK(eng.find_session(p, &s, other, rules, t0) == bits_errc::session_not_found);
        }
    }
    SECTION("idle time: exactly the timeout is still alive, one second more is expired") {
        CHECK_FALSE(eng.find_session(p, &s, path, rules, t0 + 3599));
        CHECK_FALSE(eng.find_session(p, &s, path, rules, t0 + 3600));
        CHECK(eng.find_session(p, &s, path, rules, t0 + 3601) == bits_errc::session_not_found);
        CHECK(eng.find_session(p, &s, path, rules, t0 + 10 * 3600) == bits_errc::session_not_found);
    }
    SECTION("the default timeout is 14 days") {
        const upload_rules defaults{};
        CHECK(defaults.session_timeout_s == 14u * 24 * 3600);
        CHECK_FALSE(eng.find_session(p, &s, path, defaults, t0 + 1209600));
        CHECK(eng.find_session(p, &s, path, defaults, t0 + 1209601) == bits_errc::session_not_found);
    }
    SECTION("closed sessions are remembered for the timeout, then forgotten") {
        const session_view closed = session(session_phase::closed, 10, 10);
        CHECK_FALSE(eng.find_session(p, &closed, path, rules, t0 + 3600));
        CHECK(eng.find_session(p, &closed, path, rules, t0 + 3601) == bits_errc::session_not_found);
    }
}

TEST_CASE("protocol: decide_create refuses an existing destination unless overwrites are on",
          "[protocol][engine][session]") {
    packet create;
    create.kind = packet_kind::create_session;
    create.protocol = std::string(bits_upload_protocol_guid);
    upload_rules no_overwrite;
    upload_rules overwrite;
    overwrite.allow_overwrites = true;
    CHECK_FALSE(upload_rules{}.allow_overwrites);  // off by default

    const auto ec = eng.decide_create(create, destination_kind::file, no_overwrite);
    CHECK(ec == bits_errc::destination_exists);
    check_answer(ec, 403, 0x80070005);
    CHECK(answer_for(ec).http_status != 409);  // Windows retries 409 forever

    CHECK_FALSE(eng.decide_create(create, destination_kind::file, overwrite));
    CHECK_FALSE(eng.decide_create(create, destination_kind::missing, no_overwrite));
    CHECK_FALSE(eng.decide_create(create, destination_kind::missing, overwrite));

    // A directory is never a destination, nor a path that cannot name a file, overwrites or not.
    for (const auto& rules : {no_overwrite, overwrite}) {
        const auto dir = eng.decide_create(create, destination_kind::directory, rules);
        CHECK(dir == bits_errc::destination_is_directory);
        check_answer(dir, 400, 0x80070057);
        const auto unusable = eng.decide_create(create, destination_kind::unusable, rules);
        CHECK(unusable == bits_errc::bad_destination_path);
        check_answer(unusable, 400, 0x80070057);
    }
}

TEST_CASE("protocol: is_expired", "[protocol][engine][session]") {
    CHECK_FALSE(is_expired(1000, 1000, 10));
    CHECK_FALSE(is_expired(1000, 1010, 10));  // exactly the timeout: alive
    CHECK(is_expired(1000, 1011, 10));
    CHECK_FALSE(is_expired(1000, 900, 10));   // clock went backwards: never expired by it
    CHECK(is_expired(0, 1209601, 1209600));
}

TEST_CASE("protocol: decide_close", "[protocol][engine][session]") {
    SECTION("every byte received -> commit") {
        for (std::uint64_t total : {1ull, 10ull, 4892ull}) {
            const auto r = eng.decide_close(session(session_phase::receiving, total, total));
            REQUIRE(r);
            CHECK(*r.value == close_action::commit);
        }
    }
    SECTION("no fragment at all -> commit a zero-byte file") {
        const auto r = eng.decide_close(session(session_phase::receiving, std::nullopt, 0));
        REQUIRE(r);
        CHECK(*r.value == close_action::commit);
    }
    SECTION("bytes missing -> incomplete_upload 400 E_INVALIDARG") {
        struct incomplete {
            std::optional<std::uint64_t> total;
            std::uint64_t received;
        };
        const incomplete c = GENERATE(values<incomplete>({{10, 0}, {10, 9}, {10, 1}, {4892, 4891}}));
        CAPTURE(c.received);
        const auto r = eng.decide_close(session(session_phase::receiving, c.total, c.received));
        REQUIRE_FALSE(r);
        CHECK(r.failure.error == bits_errc::incomplete_upload);
        check_answer(r.failure.error, 400, 0x80070057);
    }
    SECTION("committing -> commit (finish an interrupted commit)") {
        const auto r = eng.decide_close(session(session_phase::committing, 10, 10));
        REQUIRE(r);
        CHECK(*r.value == close_action::commit);
    }
    SECTION("closed -> already_closed (a repeated Close is answered 200)") {
        for (auto total : {std::optional<std::uint64_t>(10), std::optional<std::uint64_t>()}) {
            const auto r = eng.decide_close(session(session_phase::closed, total, total.value_or(0)));
            REQUIRE(r);
            CHECK(*r.value == close_action::already_closed);
        }
    }
    SECTION("cancelled -> session_not_found 500 0x8020001F") {
        for (std::uint64_t received : {0ull, 5ull, 10ull}) {
            const auto r = eng.decide_close(session(session_phase::cancelled, 10, received));
            REQUIRE_FALSE(r);
            CHECK(r.failure.error == bits_errc::session_not_found);
            check_answer(r.failure.error, 500, 0x8020001F);
        }
    }
}

TEST_CASE("protocol: decide_cancel", "[protocol][engine][session]") {
    CHECK(eng.decide_cancel(session(session_phase::receiving)) == cancel_action::cancel);
    CHECK(eng.decide_cancel(session(session_phase::receiving, 10, 5)) == cancel_action::cancel);
    CHECK(eng.decide_cancel(session(session_phase::receiving, 10, 10)) == cancel_action::cancel);
    CHECK(eng.decide_cancel(session(session_phase::committing, 10, 10)) == cancel_action::already_finished);
    CHECK(eng.decide_cancel(session(session_phase::closed, 10, 10)) == cancel_action::already_finished);
    CHECK(eng.decide_cancel(session(session_phase::cancelled, 10, 3)) == cancel_action::already_finished);
}
