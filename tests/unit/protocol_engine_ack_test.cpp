// The responses the engine builds: Acks for every packet and error Acks.
// Rules: bits-protocol.md §2 (general rules for every Ack, Create-Session and Fragment Ack
// tables), §4.1 and "Decisions for bitsd" (both error header names, 0x + 8 upper-case hex,
// context 0x5, session id echoed on every Ack including errors).

#include "protocol/engine.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>

using namespace bitsd::protocol;

namespace {

constexpr const char* sid = "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}";
constexpr const char* new_sid = "{01234567-89AB-4DEF-BEDC-BA9876543210}";

bool iequals(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::size_t count_header(const response& r, const std::string& name) {
    std::size_t n = 0;
    for (const auto& h : r.headers) n += iequals(h.first, name) ? 1 : 0;
    return n;
}

std::optional<std::string> header(const response& r, const std::string& name) {
    for (const auto& h : r.headers) {
        if (iequals(h.first, name)) return h.second;
    }
    return std::nullopt;
}

bool is_hresult_text(const std::string& s) {
    if (s.size() != 10 || s[0] != '0' || s[1] != 'x') return false;
    for (std::size_t i = 2; i < s.size(); ++i) {
        const char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
    }
    return true;
}

// What every BITS Ack (success or error) has in common.
void check_ack_basics(const response& r) {
    CHECK(header(r, "BITS-Packet-Type") == std::optional<std::string>("Ack"));
    CHECK(count_header(r, "BITS-Packet-Type") == 1);
    CHECK(count_header(r, "Content-Length") == 0);  // the server adds it
    CHECK(count_header(r, "BITS-Session-Id") <= 1);
}

void check_no_error_headers(const response& r) {
    CHECK(count_header(r, "BITS-Error") == 0);
    CHECK(count_header(r, "BITS-Error-Code") == 0);
    CHECK(count_header(r, "BITS-Error-Context") == 0);
}

packet make_packet(packet_kind kind, std::optional<std::string> session_id) {
    packet p;
    p.kind = kind;
    p.session_id_valid = session_id.has_value();
    p.sent_session_id = session_id;  // as parse() fills it: the header as sent, for the echo
    p.session_id = std::move(session_id);
    if (kind == packet_kind::create_session) p.protocol = std::string(bits_upload_protocol_guid);
    if (kind == packet_kind::fragment) {
        p.range = content_range{0, 9, 10};
        p.content_length = 10;
    }
    return p;
}

engine make_engine(std::optional<std::string> host_id, std::optional<std::uint64_t> fallback) {
    engine_settings s;
    s.host_id = std::move(host_id);
    s.host_id_fallback_timeout_s = fallback;
    return engine(s);
}

const engine eng{engine_settings{}};

}  // namespace

TEST_CASE("protocol: ack() for Ping, Close-Session and Cancel-Session", "[protocol][engine][ack]") {
    SECTION("Ping without a session id") {
        const auto r = eng.ack(make_packet(packet_kind::ping, std::nullopt));
        CHECK(r.status == 200);
        check_ack_basics(r);
        check_no_error_headers(r);
        CHECK(count_header(r, "BITS-Session-Id") == 0);
        CHECK(count_header(r, "BITS-Received-Content-Range") == 0);
        CHECK(count_header(r, "BITS-Protocol") == 0);
        CHECK_FALSE(r.close_connection);
    }
    SECTION("a carried session id is echoed") {
        const packet_kind kind =
            GENERATE(packet_kind::ping, packet_kind::close_session, packet_kind::cancel_session);
        CAPTURE(static_cast<int>(kind));
        for (const char* id : {sid, "not-a-guid"}) {  // echoed as the packet holds it
            CAPTURE(id);
            const auto r = eng.ack(make_packet(kind, std::string(id)));
            CHECK(r.status == 200);
            check_ack_basics(r);
            check_no_error_headers(r);
            CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(id));
            CHECK_FALSE(r.close_connection);
        }
    }
}

TEST_CASE("protocol: create_ack", "[protocol][engine][ack]") {
    const packet create = make_packet(packet_kind::create_session, std::nullopt);
    SECTION("without a host id") {
        const auto r = eng.create_ack(create, new_sid);
        CHECK(r.status == 200);
        check_ack_basics(r);
        check_no_error_headers(r);
        CHECK(header(r, "BITS-Protocol") == std::optional<std::string>("{7df0354d-249b-430f-820d-3d2a9bef4931}"));
        CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(new_sid));
        CHECK(header(r, "Accept-Encoding") == std::optional<std::string>("identity"));
        CHECK(count_header(r, "BITS-Host-Id") == 0);
        CHECK(count_header(r, "BITS-Host-Id-Fallback-Timeout") == 0);
        CHECK(count_header(r, "BITS-Received-Content-Range") == 0);
        CHECK_FALSE(r.close_connection);
    }
    SECTION("the fallback timeout alone is not sent") {
        const auto r = make_engine(std::nullopt, 110).create_ack(create, new_sid);
        CHECK(count_header(r, "BITS-Host-Id") == 0);
        CHECK(count_header(r, "BITS-Host-Id-Fallback-Timeout") == 0);
    }
    SECTION("with a host id") {
        const auto r = make_engine(std::string("node1.example.com"), std::nullopt).create_ack(create, new_sid);
        check_ack_basics(r);
        CHECK(header(r, "BITS-Host-Id") == std::optional<std::string>("node1.example.com"));
        CHECK(count_header(r, "BITS-Host-Id-Fallback-Timeout") == 0);
    }
    SECTION("with a host id and a fallback timeout") {
        const auto r = make_engine(std::string("10.0.0.7"), 110).create_ack(create, new_sid);
        check_ack_basics(r);
        CHECK(header(r, "BITS-Host-Id") == std::optional<std::string>("10.0.0.7"));
        CHECK(header(r, "BITS-Host-Id-Fallback-Timeout") == std::optional<std::string>("110"));
        CHECK(header(r, "BITS-Protocol") == std::optional<std::string>("{7df0354d-249b-430f-820d-3d2a9bef4931}"));
        CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(new_sid));
        CHECK(header(r, "Accept-Encoding") == std::optional<std::string>("identity"));
    }
    SECTION("the protocol comes from parse(), lower case, whatever case the client offered") {
        request_view req;
        req.method = "BITS_POST";
        req.target = "/uploads/f";
        req.packet_type = "Create-Session";
        req.content_length = "0";
        req.supported_protocols = "{7DF0354D-249B-430F-820D-3D2A9BEF4931}";
        const auto p = eng.parse(req);
        REQUIRE(p);
        const auto r = eng.create_ack(*p.value, new_sid);
        CHECK(header(r, "BITS-Protocol") == std::optional<std::string>("{7df0354d-249b-430f-820d-3d2a9bef4931}"));
    }
}

TEST_CASE("protocol: fragment_ack carries BITS-Received-Content-Range", "[protocol][engine][ack]") {
    for (std::uint64_t received : {0ull, 1ull, 4892ull, 18446744073709551615ull}) {
        CAPTURE(received);
        const auto r = eng.fragment_ack(make_packet(packet_kind::fragment, std::string(sid)), received);
        CHECK(r.status == 200);
        check_ack_basics(r);
        check_no_error_headers(r);
        CHECK(header(r, "BITS-Received-Content-Range") == std::optional<std::string>(std::to_string(received)));
        CHECK(count_header(r, "BITS-Received-Content-Range") == 1);
        CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(sid));
        CHECK(count_header(r, "BITS-Reply-URL") == 0);
        CHECK_FALSE(r.close_connection);
    }
}

TEST_CASE("protocol: error Acks for every BITS error", "[protocol][engine][ack]") {
    // Every enumerator (the enum is dense from 1 to too_many_auth_failures) except the plain
    // HTTP answers (404, 405, 401), which have their own test cases.
    const int value = GENERATE(range(1, static_cast<int>(bits_errc::too_many_auth_failures) + 1));
    const auto e = static_cast<bits_errc>(value);
    if (e == bits_errc::not_found || e == bits_errc::method_not_allowed || e == bits_errc::unauthorized) return;
    const std::error_code ec = e;
    CAPTURE(ec.message());
    const error_answer answer = answer_for(ec);

    for (const std::optional<std::string>& echo :
         {std::optional<std::string>(), std::optional<std::string>(sid), std::optional<std::string>("raw id")}) {
        CAPTURE(echo.value_or("(none)"));
        const auto r = eng.error_response(ec, echo);
        CHECK(r.status == answer.http_status);
        check_ack_basics(r);
        // Echoed on every Ack to a request that carried one, errors included.
        CHECK(header(r, "BITS-Session-Id") == echo);
        // Without a resync offset, no BITS-Received-Content-Range.
        CHECK(count_header(r, "BITS-Received-Content-Range") == 0);
        if (answer.hresult != 0) {
            const auto code = header(r, "BITS-Error-Code");
            const auto error = header(r, "BITS-Error");
            REQUIRE(code.has_value());
            REQUIRE(error.has_value());
            CHECK(*code == *error);
            CHECK(is_hresult_text(*code));
            CHECK(*code == format_hresult(answer.hresult));
            CHECK(count_header(r, "BITS-Error-Code") == 1);
            CHECK(count_header(r, "BITS-Error") == 1);
            CHECK(header(r, "BITS-Error-Context") == std::optional<std::string>("0x5"));
        } else {
            check_no_error_headers(r);  // 413 and 416 are identified by their status
        }
        // Only 413 leaves an unread body behind on the engine's account; server/ closes the
        // connection itself after malformed_request (not valid HTTP), so that flag is not pinned.
        if (e != bits_errc::malformed_request) {
            CHECK(r.close_connection == (e == bits_errc::fragment_too_large));
        }
        CHECK(count_header(r, "Allow") == 0);
    }
}

TEST_CASE("protocol: error Acks carry the exact values of the Decisions table", "[protocol][engine][ack]") {
    struct exact_case {
        bits_errc error;
        unsigned status;
        const char* code;
    };
    const exact_case c = GENERATE(values<exact_case>({
        {bits_errc::unknown_packet_type, 400, "0x80070057"},
        {bits_errc::missing_content_length, 400, "0x80070057"},
        {bits_errc::destination_exists, 403, "0x80070005"},
        {bits_errc::session_not_found, 500, "0x8020001F"},
        {bits_errc::upload_too_large, 500, "0x80200020"},
        {bits_errc::disk_full, 500, "0x80070070"},
        {bits_errc::internal_error, 500, "0x80004005"},
        {bits_errc::session_busy, 503, "0x801901F7"},
        {bits_errc::low_on_space, 503, "0x801901F7"},
        {bits_errc::too_many_sessions, 503, "0x801901F7"},
        {bits_errc::user_session_limit, 403, "0x80070005"},
        {bits_errc::too_many_auth_failures, 503, "0x801901F7"},
    }));
    CAPTURE(c.code);
    const auto r = eng.error_response(make_error_code(c.error), std::optional<std::string>(sid));
    CHECK(r.status == c.status);
    CHECK(header(r, "BITS-Error-Code") == std::optional<std::string>(c.code));
    CHECK(header(r, "BITS-Error") == std::optional<std::string>(c.code));
    CHECK(header(r, "BITS-Error-Context") == std::optional<std::string>("0x5"));
    CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(sid));
    // Only the transient 503 answers say when to come back.
    CHECK(count_header(r, "Retry-After") == (c.status == 503 ? 1u : 0u));
}

TEST_CASE("protocol: the transient refusals say when to come back", "[protocol][engine][ack]") {
    // A busy session frees up in seconds; a full disk needs an administrator; a client over
    // its session rate gets its next token within seconds.
    CHECK(header(eng.error_response(make_error_code(bits_errc::session_busy), std::nullopt), "Retry-After") ==
          std::optional<std::string>("5"));
    CHECK(header(eng.error_response(make_error_code(bits_errc::low_on_space), std::nullopt), "Retry-After") ==
          std::optional<std::string>("60"));
    CHECK(header(eng.error_response(make_error_code(bits_errc::too_many_sessions), std::nullopt),
                 "Retry-After") == std::optional<std::string>("10"));
}

TEST_CASE("protocol: a resync rejection is a 416 Ack with the offset and no error",
          "[protocol][engine][ack]") {
    for (std::uint64_t e : {0ull, 10ull, 4892ull}) {
        CAPTURE(e);
        const auto r = eng.error_response(rejection{make_error_code(bits_errc::unexpected_offset), e},
                                          std::optional<std::string>(sid));
        CHECK(r.status == 416);
        check_ack_basics(r);
        check_no_error_headers(r);
        CHECK(header(r, "BITS-Received-Content-Range") == std::optional<std::string>(std::to_string(e)));
        CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(sid));
        CHECK_FALSE(r.close_connection);
    }
}

TEST_CASE("protocol: 404 and 405 are plain HTTP answers", "[protocol][engine][ack]") {
    for (const std::optional<std::string>& echo : {std::optional<std::string>(), std::optional<std::string>(sid)}) {
        const auto nf = eng.error_response(make_error_code(bits_errc::not_found), echo);
        CHECK(nf.status == 404);
        CHECK(count_header(nf, "BITS-Packet-Type") == 0);
        CHECK(count_header(nf, "BITS-Session-Id") == 0);
        check_no_error_headers(nf);
        CHECK(count_header(nf, "Allow") == 0);
        CHECK(count_header(nf, "Content-Length") == 0);
        CHECK_FALSE(nf.close_connection);

        const auto na = eng.error_response(make_error_code(bits_errc::method_not_allowed), echo);
        CHECK(na.status == 405);
        CHECK(count_header(na, "BITS-Packet-Type") == 0);
        CHECK(count_header(na, "BITS-Session-Id") == 0);
        check_no_error_headers(na);
        CHECK(header(na, "Allow") == std::optional<std::string>("BITS_POST"));
        CHECK(count_header(na, "Allow") == 1);
        CHECK(count_header(na, "Content-Length") == 0);
        CHECK_FALSE(na.close_connection);
    }
}

TEST_CASE("protocol: a BITS_POST outside every prefix gets a 404 Ack without BITS error",
          "[protocol][engine][ack]") {
    const auto r = eng.error_response(make_error_code(bits_errc::upload_url_not_found), std::nullopt);
    CHECK(r.status == 404);
    check_ack_basics(r);
    check_no_error_headers(r);
    CHECK(count_header(r, "Allow") == 0);
}

TEST_CASE("protocol: a foreign error code gets internal_error's Ack", "[protocol][engine][ack]") {
    const auto r = eng.error_response(std::make_error_code(std::errc::io_error), std::optional<std::string>(sid));
    CHECK(r.status == 500);
    check_ack_basics(r);
    CHECK(header(r, "BITS-Error-Code") == std::optional<std::string>("0x80004005"));
    CHECK(header(r, "BITS-Error") == std::optional<std::string>("0x80004005"));
    CHECK(header(r, "BITS-Error-Context") == std::optional<std::string>("0x5"));
    CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>(sid));
}

TEST_CASE("protocol: a parse failure turns into the right error Ack end to end", "[protocol][engine][ack]") {
    // The server echoes the request's raw BITS-Session-Id on a parse failure.
    const engine small{[] {
        engine_settings s;
        s.max_fragment_size = 5;
        return s;
    }()};
    request_view req;
    req.method = "BITS_POST";
    req.target = "/uploads/f";
    req.packet_type = "Fragment";
    req.session_id = "{a0ff5911-4144-45b3-bf27-27afc8ec8a67}";
    req.content_range = "bytes 0-9/10";
    req.content_length = "10";
    const auto p = small.parse(req);
    REQUIRE_FALSE(p);
    const auto r = small.error_response(p.failure, std::optional<std::string>(std::string(*req.session_id)));
    CHECK(r.status == 413);
    check_ack_basics(r);
    check_no_error_headers(r);
    CHECK(r.close_connection);
    CHECK(header(r, "BITS-Session-Id") == std::optional<std::string>("{a0ff5911-4144-45b3-bf27-27afc8ec8a67}"));

    req.packet_type = "Frobnicate";
    const auto q = small.parse(req);
    REQUIRE_FALSE(q);
    const auto r2 = small.error_response(q.failure, std::nullopt);
    CHECK(r2.status == 400);
    check_ack_basics(r2);
    CHECK(header(r2, "BITS-Error") == std::optional<std::string>("0x80070057"));
    CHECK(header(r2, "BITS-Error-Code") == std::optional<std::string>("0x80070057"));
    CHECK(header(r2, "BITS-Error-Context") == std::optional<std::string>("0x5"));
    CHECK(count_header(r2, "BITS-Session-Id") == 0);
    CHECK_FALSE(r2.close_connection);
}

TEST_CASE("protocol: a 401 is plain HTTP (server/ adds WWW-Authenticate)", "[protocol][engine][ack]") {
    const auto r = eng.error_response(make_error_code(bits_errc::unauthorized), std::optional<std::string>(sid));
    CHECK(r.status == 401);
    CHECK(count_header(r, "BITS-Packet-Type") == 0);
    CHECK(count_header(r, "BITS-Error") == 0);
    CHECK_FALSE(r.close_connection);
}
