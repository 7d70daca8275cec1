// engine::parse(): syntax and per-request limits, before any session lookup or body read.
// Rules: bits-protocol.md §1.1 (Content-Length, 4 KB header values), §2.1–§2.6, §3.3 step 3,
// "Decisions for bitsd" (missing Content-Length -> 400; 413 before the body is read).

#include "protocol/engine.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using namespace bitsd::protocol;

namespace {

constexpr const char* guid = "{7df0354d-249b-430f-820d-3d2a9bef4931}";
constexpr const char* sid = "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}";
constexpr std::uint32_t e_invalidarg = 0x80070057;

engine make_engine(std::uint64_t max_fragment = 32ull * 1024 * 1024) {
    engine_settings s;
    s.max_fragment_size = max_fragment;
    return engine(s);
}

request_view base(std::string_view packet_type, std::string_view content_length = "0") {
    request_view r;
    r.method = "BITS_POST";
    r.target = "/uploads/file.bin";
    r.packet_type = packet_type;
    r.content_length = content_length;
    return r;
}

request_view create(std::string_view protocols = guid) {
    request_view r = base("Create-Session");
    r.supported_protocols = protocols;
    return r;
}

request_view fragment(std::string_view range, std::string_view content_length,
                      std::string_view session = sid) {
    request_view r = base("Fragment", content_length);
    r.session_id = session;
    r.content_range = range;
    return r;
}

request_view session_packet(std::string_view packet_type, std::string_view session = sid) {
    request_view r = base(packet_type);
    r.session_id = session;
    return r;
}

// A request of each kind that parse() accepts, for the given packet-type spelling.
request_view valid_request(packet_kind kind, std::string_view spelling) {
    switch (kind) {
    case packet_kind::ping: return base(spelling);
    case packet_kind::create_session: {
        request_view r = create();
        r.packet_type = spelling;
        return r;
    }
    case packet_kind::fragment: {
        request_view r = fragment("bytes 0-9/10", "10");
        r.packet_type = spelling;
        return r;
    }
    case packet_kind::close_session:
    case packet_kind::cancel_session: return session_packet(spelling);
    }
    return base(spelling);
}

// The parse must fail with `expected`, which answers 400 + E_INVALIDARG, context 0x5.
void require_bad_request(const outcome<packet>& result, bits_errc expected) {
    REQUIRE_FALSE(result);
    CHECK_FALSE(result.value.has_value());
    CHECK(result.failure.error == expected);
    CHECK_FALSE(result.failure.received.has_value());
    const auto answer = answer_for(result.failure.error);
    CHECK(answer.http_status == 400);
    CHECK(answer.hresult == e_invalidarg);
    CHECK(answer.context == 0x5);
}

}  // namespace

TEST_CASE("protocol: parse_packet_type is case-insensitive", "[protocol][engine][parse]") {
    struct type_case {
        const char* text;
        packet_kind kind;
    };
    const type_case c = GENERATE(values<type_case>({
        {"Ping", packet_kind::ping},
        {"PING", packet_kind::ping},
        {"ping", packet_kind::ping},
        {"pInG", packet_kind::ping},
        {"Create-Session", packet_kind::create_session},
        {"CREATE-SESSION", packet_kind::create_session},
        {"CreatE-SEssION", packet_kind::create_session},
        {"create-session", packet_kind::create_session},
        {"Fragment", packet_kind::fragment},
        {"fragment", packet_kind::fragment},
        {"FRAGMENT", packet_kind::fragment},
        {"Close-Session", packet_kind::close_session},
        {"close-session", packet_kind::close_session},
        {"CLOSE-SESSION", packet_kind::close_session},
        {"Cancel-Session", packet_kind::cancel_session},
        {"cancel-session", packet_kind::cancel_session},
        {"CANCEL-SESSION", packet_kind::cancel_session},
    }));
    CAPTURE(c.text);
    const auto kind = parse_packet_type(c.text);
    REQUIRE(kind.has_value());
    CHECK(*kind == c.kind);

    // And through parse(), with a request that is otherwise valid for that kind.
    const auto result = make_engine().parse(valid_request(c.kind, c.text));
    REQUIRE(result);
    CHECK(result.value->kind == c.kind);
}

TEST_CASE("protocol: unknown or missing packet type is 400 E_INVALIDARG", "[protocol][engine][parse]") {
    const char* text = GENERATE(values<const char*>({
        "", "Pong", "Ack", "Create Session", "CreateSession", "Create_Session", "Fragments",
        "Frag", "Close", "Cancel", "Session", "Ping-", "-Ping", "Ping,Fragment", "P1ng",
    }));
    CAPTURE(text);
    CHECK_FALSE(parse_packet_type(text).has_value());
    require_bad_request(make_engine().parse(base(text)), bits_errc::unknown_packet_type);

    request_view missing = base("Ping");
    missing.packet_type.reset();
    require_bad_request(make_engine().parse(missing), bits_errc::unknown_packet_type);
}

TEST_CASE("protocol: Content-Length is required and must be a number", "[protocol][engine][parse]") {
    const engine e = make_engine();
    SECTION("missing Content-Length -> 400 on a Fragment") {
        request_view r = valid_request(packet_kind::fragment, "Fragment");
        REQUIRE(e.parse(r));  // the baseline is valid
        r.content_length.reset();
        require_bad_request(e.parse(r), bits_errc::missing_content_length);
    }
    SECTION("missing Content-Length on a bodiless packet is an empty body (RFC 9112 6.3)") {
        for (auto kind : {packet_kind::ping, packet_kind::create_session,
                          packet_kind::close_session, packet_kind::cancel_session}) {
            request_view r = valid_request(kind, kind == packet_kind::ping             ? "Ping"
                                                 : kind == packet_kind::create_session ? "Create-Session"
                                                 : kind == packet_kind::close_session  ? "Close-Session"
                                                                                       : "Cancel-Session");
            r.content_length.reset();
            const auto p = e.parse(r);
            REQUIRE(p);
            CHECK(p.value->kind == kind);
            CHECK(p.value->content_length == 0);
            // Chunked is still refused: its length is unknown, not zero.
            r.chunked = true;
            require_bad_request(e.parse(r), bits_errc::chunked_body_not_supported);
        }
    }
    SECTION("non-numeric Content-Length -> 400") {
        const char* text = GENERATE(values<const char*>({
            "", " ", "abc", "-1", "+0", "0x0", "1.0", "1e1", "1 0", "0,0", "99999999999999999999",
        }));
        CAPTURE(text);
        require_bad_request(e.parse(base("Ping", text)), bits_errc::bad_content_length);
        require_bad_request(e.parse(fragment("bytes 0-9/10", text)), bits_errc::bad_content_length);
    }
    SECTION("surrounding whitespace in Content-Length is fine") {
        const auto r = e.parse(fragment("bytes 0-9/10", " 10 "));
        REQUIRE(r);
        CHECK(r.value->content_length == 10);
    }
}

TEST_CASE("protocol: chunked request bodies are refused with 400", "[protocol][engine][parse]") {
    const engine e = make_engine();
    request_view f = fragment("bytes 0-9/10", "10");
    f.chunked = true;
    require_bad_request(e.parse(f), bits_errc::chunked_body_not_supported);

    request_view p = base("Ping");
    p.chunked = true;
    require_bad_request(e.parse(p), bits_errc::chunked_body_not_supported);

    request_view no_length = fragment("bytes 0-9/10", "10");
    no_length.chunked = true;
    no_length.content_length.reset();
    const auto r = e.parse(no_length);
    REQUIRE_FALSE(r);
    CHECK(answer_for(r.failure.error).http_status == 400);
    CHECK(answer_for(r.failure.error).hresult == e_invalidarg);
}

TEST_CASE("protocol: only identity Content-Encoding is accepted", "[protocol][engine][parse]") {
    const engine e = make_engine();
    SECTION("identity, in any case, is fine") {
        const char* text = GENERATE(values<const char*>({"identity", "Identity", "IDENTITY", " identity "}));
        CAPTURE(text);
        request_view f = fragment("bytes 0-9/10", "10");
        f.content_encoding = text;
        CHECK(e.parse(f));
        request_view p = base("Ping");
        p.content_encoding = text;
        CHECK(e.parse(p));
    }
    SECTION("anything else -> 400") {
        const char* text = GENERATE(values<const char*>({
            "gzip", "deflate", "br", "compress", "x-gzip", "identity, gzip", "gzip, identity", "",
            "identityx",
        }));
        CAPTURE(text);
        request_view f = fragment("bytes 0-9/10", "10");
        f.content_encoding = text;
        require_bad_request(e.parse(f), bits_errc::unsupported_content_encoding);
    }
}

TEST_CASE("protocol: Ping, Create, Close and Cancel carry no body", "[protocol][engine][parse]") {
    const engine e = make_engine();
    struct body_case {
        packet_kind kind;
        const char* spelling;
    };
    const body_case c = GENERATE(values<body_case>({
        {packet_kind::ping, "Ping"},
        {packet_kind::create_session, "Create-Session"},
        {packet_kind::close_session, "Close-Session"},
        {packet_kind::cancel_session, "Cancel-Session"},
    }));
    CAPTURE(c.spelling);
    request_view r = valid_request(c.kind, c.spelling);
    r.content_length = "0";
    REQUIRE(e.parse(r));
    for (const char* length : {"1", "10", "4096", "18446744073709551615"}) {
        CAPTURE(length);
        r.content_length = length;
        require_bad_request(e.parse(r), bits_errc::body_not_allowed);
    }
}

TEST_CASE("protocol: header values over 4096 bytes are refused", "[protocol][engine][parse]") {
    const engine e = make_engine();
    CHECK(max_header_value_length == 4096);
    for (auto kind : {packet_kind::ping, packet_kind::create_session, packet_kind::fragment,
                      packet_kind::close_session, packet_kind::cancel_session}) {
        request_view r = valid_request(kind, kind == packet_kind::ping             ? "ping"
                                             : kind == packet_kind::create_session ? "create-session"
                                             : kind == packet_kind::fragment       ? "fragment"
                                             : kind == packet_kind::close_session  ? "close-session"
                                                                                   : "cancel-session");
        r.longest_header_value = 4096;
        CHECK(e.parse(r));
        r.longest_header_value = 4097;
        require_bad_request(e.parse(r), bits_errc::header_too_long);
        r.longest_header_value = 1 << 20;
        require_bad_request(e.parse(r), bits_errc::header_too_long);
    }
}

TEST_CASE("protocol: Create-Session negotiates the BITS 1.5 upload protocol",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    CHECK(bits_upload_protocol_guid == guid);
    SECTION("accepted offers") {
        const char* offer = GENERATE(values<const char*>({
            "{7df0354d-249b-430f-820d-3d2a9bef4931}",                 // the GUID alone
            "{7DF0354D-249B-430F-820D-3D2A9BEF4931}",                 // upper case
            "{7Df0354D-249b-430F-820d-3D2a9bEF4931}",                 // mixed case
            " {7df0354d-249b-430f-820d-3d2a9bef4931} ",
            "{11111111-2222-3333-4444-555555555555},{7df0354d-249b-430f-820d-3d2a9bef4931}",
            "{11111111-2222-3333-4444-555555555555}, {7df0354d-249b-430f-820d-3d2a9bef4931}",
            "{11111111-2222-3333-4444-555555555555} {7df0354d-249b-430f-820d-3d2a9bef4931}",
            "{7df0354d-249b-430f-820d-3d2a9bef4931},{11111111-2222-3333-4444-555555555555}",
            "{7df0354d-249b-430f-820d-3d2a9bef4931} {11111111-2222-3333-4444-555555555555}",
            "{11111111-2222-3333-4444-555555555555} {22222222-2222-3333-4444-555555555555} "
            "{7DF0354D-249B-430F-820D-3D2A9BEF4931}",
        }));
        CAPTURE(offer);
        const auto r = e.parse(create(offer));
        REQUIRE(r);
        CHECK(r.value->kind == packet_kind::create_session);
        CHECK(r.value->protocol == "{7df0354d-249b-430f-820d-3d2a9bef4931}");  // lower case
        CHECK_FALSE(r.value->range.has_value());
    }
    SECTION("no known protocol -> no_common_protocol, 400") {
        const char* offer = GENERATE(values<const char*>({
            "",
            " ",
            "{11111111-2222-3333-4444-555555555555}",
            "{11111111-2222-3333-4444-555555555555},{22222222-2222-3333-4444-555555555555}",
            "7df0354d-249b-430f-820d-3d2a9bef4931",                     // no braces
            "{7df0354d-249b-430f-820d-3d2a9bef4932}",                   // one digit off
            "{7df0354d-249b-430f-820d-3d2a9bef4931}x",
            "x{7df0354d-249b-430f-820d-3d2a9bef4931}",
            "{7df0354d-249b-430f-820d-3d2a9bef4931;}",
            "BITS 1.5 Upload Protocol",
        }));
        CAPTURE(offer);
        require_bad_request(e.parse(create(offer)), bits_errc::no_common_protocol);
    }
    SECTION("missing BITS-Supported-Protocols -> 400") {
        request_view r = create();
        r.supported_protocols.reset();
        require_bad_request(e.parse(r), bits_errc::missing_supported_protocols);
    }
}

TEST_CASE("protocol: Fragment requires a session id, a valid range and a matching length",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    SECTION("a good fragment") {
        const auto r = e.parse(fragment("bytes 0-4891/4892", "4892"));
        REQUIRE(r);
        CHECK(r.value->kind == packet_kind::fragment);
        CHECK(r.value->content_length == 4892);
        REQUIRE(r.value->range.has_value());
        CHECK(*r.value->range == content_range{0, 4891, 4892});
        CHECK(r.value->session_id == std::optional<std::string>(sid));
        CHECK(r.value->session_id_valid);
    }
    SECTION("missing BITS-Session-Id -> 400") {
        request_view r = fragment("bytes 0-9/10", "10");
        r.session_id.reset();
        require_bad_request(e.parse(r), bits_errc::missing_session_id);
    }
    SECTION("missing Content-Range -> 400") {
        request_view r = fragment("bytes 0-9/10", "10");
        r.content_range.reset();
        require_bad_request(e.parse(r), bits_errc::missing_content_range);
    }
    SECTION("malformed Content-Range -> 400") {
        const char* range = GENERATE(values<const char*>({
            "bytes 10-9/10", "bytes 0-10/10", "bytes 0-9/*", "bytes */10", "0-9/10", "items 0-9/10",
            "bytes 0-9/10x", "", "bytes 0-9/", "bytes0-9/10", "bytes -1-9/10",
        }));
        CAPTURE(range);
        require_bad_request(e.parse(fragment(range, "10")), bits_errc::bad_content_range);
    }
    SECTION("Content-Length different from the range length -> 400") {
        for (const char* length : {"0", "9", "11", "100"}) {
            CAPTURE(length);
            require_bad_request(e.parse(fragment("bytes 0-9/10", length)),
                                bits_errc::content_length_mismatch);
        }
        require_bad_request(e.parse(fragment("bytes 50-150/200", "100")),
                            bits_errc::content_length_mismatch);
        CHECK(e.parse(fragment("bytes 50-150/200", "101")));
    }
    SECTION("Close-Session and Cancel-Session also need a session id") {
        for (const char* type : {"Close-Session", "Cancel-Session"}) {
            CAPTURE(type);
            request_view r = session_packet(type);
            REQUIRE(e.parse(r));
            r.session_id.reset();
            require_bad_request(e.parse(r), bits_errc::missing_session_id);
        }
    }
    SECTION("Ping and Create-Session need none") {
        const auto ping = e.parse(base("Ping"));
        REQUIRE(ping);
        CHECK_FALSE(ping.value->session_id.has_value());
        CHECK_FALSE(ping.value->session_id_valid);
        const auto c = e.parse(create());
        REQUIRE(c);
        CHECK_FALSE(c.value->session_id.has_value());
    }
}

TEST_CASE("protocol: fragments over max_fragment_size are answered 413 before the body",
          "[protocol][engine][parse]") {
    const engine e = make_engine(1000);
    SECTION("exactly the maximum is fine") {
        const auto r = e.parse(fragment("bytes 0-999/5000", "1000"));
        REQUIRE(r);
        CHECK(r.value->content_length == 1000);
    }
    SECTION("one byte more -> fragment_too_large 413, connection closed") {
        const auto r = e.parse(fragment("bytes 0-1000/5000", "1001"));
        REQUIRE_FALSE(r);
        CHECK(r.failure.error == bits_errc::fragment_too_large);
        const auto answer = answer_for(r.failure.error);
        CHECK(answer.http_status == 413);
        CHECK(answer.hresult == 0);

        const auto resp = e.error_response(r.failure, std::optional<std::string>(sid));
        CHECK(resp.status == 413);
        CHECK(resp.close_connection);
    }
    SECTION("the default limit is 32 MiB") {
        const engine d{engine_settings{}};
        CHECK(d.settings().max_fragment_size == 32ull * 1024 * 1024);
        CHECK(d.parse(fragment("bytes 0-33554431/33554432", "33554432")));
        const auto r = d.parse(fragment("bytes 0-33554432/33554433", "33554433"));
        REQUIRE_FALSE(r);
        CHECK(r.failure.error == bits_errc::fragment_too_large);
    }
}

TEST_CASE("protocol: the session id is kept canonical when valid, raw when not",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    struct echo_case {
        const char* sent;
        const char* kept;
        bool valid;
    };
    const echo_case c = GENERATE(values<echo_case>({
        {"{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", true},
        {"{a0ff5911-4144-45b3-bf27-27afc8ec8a67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", true},
        {"{a0Ff5911-4144-45B3-bF27-27aFc8Ec8A67}", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", true},
        {" {a0ff5911-4144-45b3-bf27-27afc8ec8a67} ", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}", true},
        {"not-a-guid", "not-a-guid", false},
        {"{a0ff5911-4144-45b3-bf27-27afc8ec8a6}", "{a0ff5911-4144-45b3-bf27-27afc8ec8a6}", false},
        {"../../etc/passwd", "../../etc/passwd", false},
        {"", "", false},
    }));
    CAPTURE(c.sent);
    for (const char* type : {"Fragment", "Close-Session", "Cancel-Session", "Ping"}) {
        CAPTURE(type);
        request_view r = std::string_view(type) == "Fragment" ? fragment("bytes 0-9/10", "10", c.sent)
                                                               : session_packet(type, c.sent);
        const auto p = e.parse(r);
        REQUIRE(p);
        REQUIRE(p.value->session_id.has_value());
        CHECK(*p.value->session_id == c.kept);
        CHECK(p.value->session_id_valid == c.valid);
    }
}

TEST_CASE("protocol: a repeated BITS or framing header is 400, never first-one-wins",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    for (auto kind : {packet_kind::ping, packet_kind::create_session, packet_kind::fragment,
                      packet_kind::close_session, packet_kind::cancel_session}) {
        CAPTURE(static_cast<int>(kind));
        const request_view valid = valid_request(kind, kind == packet_kind::ping             ? "Ping"
                                                       : kind == packet_kind::create_session ? "Create-Session"
                                                       : kind == packet_kind::fragment       ? "Fragment"
                                                       : kind == packet_kind::close_session  ? "Close-Session"
                                                                                             : "Cancel-Session");
        REQUIRE(e.parse(valid));
        request_view once = valid;  // counts of one are what the server reports normally
        once.packet_type_count = once.session_id_count = once.content_length_count =
            once.content_range_count = 1;
        REQUIRE(e.parse(once));
        for (int which = 0; which < 4; ++which) {
            CAPTURE(which);
            request_view r = once;
            (which == 0   ? r.packet_type_count
             : which == 1 ? r.session_id_count
             : which == 2 ? r.content_length_count
                          : r.content_range_count) = 2;
            require_bad_request(e.parse(r), bits_errc::duplicate_header);
        }
    }
}

TEST_CASE("protocol: HTTP/1.1 needs exactly one Host; HTTP/1.0 at most one",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    struct host_case {
        unsigned version;
        std::size_t hosts;
        bool accepted;
    };
    const host_case c = GENERATE(values<host_case>({
        {11, 1, true}, {11, 0, false}, {11, 2, false}, {11, 3, false},
        {10, 0, true}, {10, 1, true},  {10, 2, false},
    }));
    CAPTURE(c.version, c.hosts);
    for (request_view r : {base("Ping"), create(), fragment("bytes 0-9/10", "10"),
                           session_packet("Close-Session")}) {
        r.http_version = c.version;
        r.host_count = c.hosts;
        const auto p = e.parse(r);
        if (c.accepted) {
            CHECK(p);
        } else {
            require_bad_request(p, bits_errc::bad_host);
        }
    }
}

TEST_CASE("protocol: the session id is echoed exactly as sent, looked up canonically",
          "[protocol][engine][parse]") {
    const engine e = make_engine();
    const char* sent = GENERATE(values<const char*>({
        "{a0ff5911-4144-45b3-bf27-27afc8ec8a67}",
        "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}",
        "{a0Ff5911-4144-45B3-bF27-27aFc8Ec8A67}",
        "not-a-guid",
    }));
    CAPTURE(sent);
    const auto has_echo = [&](const response& r) {
        for (const auto& [name, value] : r.headers) {
            if (name == "BITS-Session-Id") return value == sent;
        }
        return false;
    };
    for (const char* type : {"Fragment", "Close-Session", "Cancel-Session", "Ping"}) {
        CAPTURE(type);
        request_view r = std::string_view(type) == "Fragment" ? fragment("bytes 0-9/10", "10", sent)
                                                               : session_packet(type, sent);
        const auto p = e.parse(r);
        REQUIRE(p);
        REQUIRE(p.value->sent_session_id.has_value());
        CHECK(*p.value->sent_session_id == sent);
        CHECK(has_echo(e.ack(*p.value)));
        CHECK(has_echo(e.error_response(make_error_code(bits_errc::session_not_found),
                                        p.value->sent_session_id)));
        if (std::string_view(type) == "Fragment") CHECK(has_echo(e.fragment_ack(*p.value, 10)));
    }
}
