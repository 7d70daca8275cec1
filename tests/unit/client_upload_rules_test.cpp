// The client's decisions, row by row: bits-protocol.md §3.1 (client state machine), §3.4
// (resync), §4.4 (status classification), §6 (Host-Id) and the client rules of the issue
// (413 shrink floor, SESSION_NOT_FOUND restarts, backoff, give-up).

#include "client/upload_rules.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace bitsd::client;
using bitsd::protocol::packet_kind;
using std::chrono::seconds;

namespace {

response_head ack(unsigned status, bitsd::protocol::header_list extra = {}) {
    response_head r;
    r.status = status;
    r.reason = status == 200 ? "OK" : "";
    r.headers = {{"BITS-Packet-Type", "Ack"}, {"Content-Length", "0"}};
    for (auto& h : extra) r.headers.push_back(std::move(h));
    return r;
}

response_head error_ack(unsigned status, const std::string& code, const char* header = "BITS-Error-Code") {
    return ack(status, {{header, code}, {"BITS-Error-Context", "0x5"}});
}

upload_position fragment_at(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
    upload_position at;
    at.offset = offset;
    at.length = length;
    at.file_size = size;
    return at;
}

const retry_policy policy{};

}  // namespace

TEST_CASE("client rules: status classification follows §4.4", "[client][rules]") {
    struct row {
        unsigned status;
        status_class expected;
    };
    const row r = GENERATE(values<row>({
        {200, status_class::success}, {201, status_class::success}, {204, status_class::success},
        {300, status_class::fatal},   {301, status_class::fatal},   {302, status_class::fatal},
        {303, status_class::fatal},   {304, status_class::fatal},   {305, status_class::fatal},
        {306, status_class::transient}, {307, status_class::fatal}, {308, status_class::transient},
        {400, status_class::fatal},   {403, status_class::fatal},   {404, status_class::fatal},
        {405, status_class::fatal},   {408, status_class::transient}, {409, status_class::transient},
        {410, status_class::fatal},   {411, status_class::fatal},   {500, status_class::transient},
        {501, status_class::fatal},   {502, status_class::transient}, {503, status_class::transient},
        {504, status_class::transient}, {505, status_class::fatal}, {599, status_class::transient},
        {100, status_class::transient}, {600, status_class::transient}, {0, status_class::transient},
    }));
    CAPTURE(r.status);
    CHECK(classify_status(r.status) == r.expected);
}

TEST_CASE("client rules: the BITS error code is read from either header, any form",
          "[client][rules]") {
    struct row {
        const char* header;
        const char* value;
        std::uint32_t code;
    };
    const row r = GENERATE(values<row>({
        {"BITS-Error-Code", "0x8020001F", 0x8020001F},
        {"BITS-Error", "0x8020001F", 0x8020001F},
        {"bits-error-code", "0x8020001f", 0x8020001F},
        {"BITS-ERROR", "8020001F", 0x8020001F},
        {"BITS-Error", "  0X80070005 ", 0x80070005},
        {"bits-error", "80070057", 0x80070057},
    }));
    CAPTURE(r.header, r.value);
    const auto response = ack(500, {{r.header, r.value}});
    REQUIRE(bits_error_code(response).has_value());
    CHECK(*bits_error_code(response) == r.code);
}

TEST_CASE("client rules: parse_hresult rejects what is not a 32-bit hex number", "[client][rules]") {
    const char* text = GENERATE("", "0x", "0x123456789", "zz", "0x80g70005", "-1", "0x 1");
    CAPTURE(text);
    CHECK_FALSE(parse_hresult(text).has_value());
}

TEST_CASE("client rules: Fragment acknowledged as sent advances", "[client][rules]") {
    const auto d = decide(packet_kind::fragment, fragment_at(0, 100, 1000), policy,
                          ack(200, {{"BITS-Received-Content-Range", "100"}}));
    CHECK(d.step == next_step::advance);
    CHECK(d.offset == 100);
    CHECK_FALSE(d.reply_url.has_value());
}

TEST_CASE("client rules: header names are matched case-insensitively", "[client][rules]") {
    response_head r;
    r.status = 200;
    r.headers = {{"bits-packet-type", "ack"}, {"bits-received-content-range", "100"}};
    const auto d = decide(packet_kind::fragment, fragment_at(0, 100, 1000), policy, r);
    CHECK(d.step == next_step::advance);
    CHECK(d.offset == 100);
}

TEST_CASE("client rules: the final Ack carries the reply URL", "[client][rules]") {
    const auto d = decide(packet_kind::fragment, fragment_at(900, 100, 1000), policy,
                          ack(200, {{"BITS-Received-Content-Range", "1000"},
                                    {"BITS-Reply-URL", "http://h/r/{X}/reply"}}));
    CHECK(d.step == next_step::advance);
    CHECK(d.offset == 1000);
    REQUIRE(d.reply_url.has_value());
    CHECK(*d.reply_url == "http://h/r/{X}/reply");
}

TEST_CASE("client rules: a Reply-URL on a non-final Ack is ignored", "[client][rules]") {
    const auto d = decide(packet_kind::fragment, fragment_at(0, 100, 1000), policy,
                          ack(200, {{"BITS-Received-Content-Range", "100"},
                                    {"BITS-Reply-URL", "http://h/reply"}}));
    CHECK_FALSE(d.reply_url.has_value());
}

TEST_CASE("client rules: 200 and 416 resync to BITS-Received-Content-Range", "[client][rules]") {
    struct row {
        unsigned status;
        const char* received;
        next_step step;
        std::uint64_t offset;
    };
    const row r = GENERATE(values<row>({
        {416, "40", next_step::resync, 40},      // gap: the server has less
        {416, "0", next_step::resync, 0},
        {416, "300", next_step::resync, 300},    // 416 is always a resync, even "forward"
        {200, "500", next_step::resync, 500},    // the server had more than this fragment
        {200, "150", next_step::resync, 150},    // took less than sent
        {200, "1000", next_step::resync, 1000},  // had everything
        {200, " 300 ", next_step::advance, 300}, // whitespace tolerated
    }));
    CAPTURE(r.status, r.received);
    const auto d = decide(packet_kind::fragment, fragment_at(200, 100, 1000), policy,
                          ack(r.status, {{"BITS-Received-Content-Range", r.received}}));
    CHECK(d.step == r.step);
    CHECK(d.offset == r.offset);
}

TEST_CASE("client rules: a 200 without BITS-Received-Content-Range means all was taken",
          "[client][rules]") {
    const auto d = decide(packet_kind::fragment, fragment_at(200, 100, 1000), policy, ack(200));
    CHECK(d.step == next_step::advance);
    CHECK(d.offset == 300);
}

TEST_CASE("client rules: impossible offsets are fatal", "[client][rules]") {
    SECTION("416 without an offset") {
        const auto d = decide(packet_kind::fragment, fragment_at(200, 100, 1000), policy, ack(416));
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("416"));
    }
    SECTION("an offset beyond the file") {
        const auto d = decide(packet_kind::fragment, fragment_at(200, 100, 1000), policy,
                              ack(200, {{"BITS-Received-Content-Range", "1001"}}));
        CHECK(d.step == next_step::fail);
    }
    SECTION("an offset that is not a number") {
        const auto d = decide(packet_kind::fragment, fragment_at(200, 100, 1000), policy,
                              ack(416, {{"BITS-Received-Content-Range", "12a"}}));
        CHECK(d.step == next_step::fail);
    }
}

TEST_CASE("client rules: a 200 without BITS-Packet-Type: Ack is not a BITS server",
          "[client][rules]") {
    response_head r;
    r.status = 200;
    r.reason = "OK";
    r.headers = {{"Content-Type", "text/html"}};
    for (const auto kind : {packet_kind::ping, packet_kind::create_session, packet_kind::fragment,
                            packet_kind::close_session}) {
        const auto d = decide(kind, fragment_at(0, 10, 10), policy, r);
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("not a BITS upload server"));
    }
}

TEST_CASE("client rules: 413 halves the fragment, not below 5 KiB", "[client][rules]") {
    struct row {
        std::uint64_t length;
        next_step step;
        std::uint64_t fragment_size;
    };
    const row r = GENERATE(values<row>({
        {8 * 1024 * 1024, next_step::shrink_fragment, 4 * 1024 * 1024},
        {65536, next_step::shrink_fragment, 32768},
        {10241, next_step::shrink_fragment, 5120},
        {10240, next_step::shrink_fragment, 5120},
        {6000, next_step::shrink_fragment, 5120},  // half would be below the floor
        {5121, next_step::shrink_fragment, 5120},
        {5120, next_step::fail, 0},                // the floor itself was refused
        {100, next_step::fail, 0},                 // a short last fragment was refused
    }));
    CAPTURE(r.length);
    const auto d = decide(packet_kind::fragment, fragment_at(0, r.length, 100000000), policy,
                          ack(413));
    CHECK(d.step == r.step);
    if (r.step == next_step::shrink_fragment) CHECK(d.fragment_size == r.fragment_size);
}

TEST_CASE("client rules: SESSION_NOT_FOUND starts over, except for Cancel", "[client][rules]") {
    const auto not_found = error_ack(500, "0x8020001F");
    SECTION("Fragment and Close-Session restart") {
        for (const auto kind : {packet_kind::fragment, packet_kind::close_session}) {
            const auto d = decide(kind, fragment_at(100, 100, 1000), policy, not_found);
            CHECK(d.step == next_step::restart_session);
        }
    }
    SECTION("accepted in either header and any case") {
        const auto d = decide(packet_kind::fragment, fragment_at(100, 100, 1000), policy,
                              error_ack(500, "8020001f", "bits-error"));
        CHECK(d.step == next_step::restart_session);
    }
    SECTION("Cancel-Session: nothing left to cancel") {
        const auto d = decide(packet_kind::cancel_session, {}, policy, not_found);
        CHECK(d.step == next_step::proceed);
    }
    SECTION("at most max_restarts times, then fatal") {
        upload_position at = fragment_at(100, 100, 1000);
        at.restarts = policy.max_restarts;
        const auto d = decide(packet_kind::fragment, at, policy, not_found);
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("0x8020001F"));
    }
    SECTION("another 500 is transient") {
        const auto d = decide(packet_kind::fragment, fragment_at(100, 100, 1000), policy,
                              error_ack(500, "0x80004005"));
        CHECK(d.step == next_step::retry);
    }
}

TEST_CASE("client rules: fatal errors name the status and the BITS error code", "[client][rules]") {
    struct row {
        packet_kind kind;
        unsigned status;
        const char* code;
        const char* name;
    };
    const row r = GENERATE(values<row>({
        {packet_kind::create_session, 403, "0x80070005", "E_ACCESSDENIED"},
        {packet_kind::fragment, 400, "0x80070057", "E_INVALIDARG"},
        {packet_kind::ping, 501, "0x80070005", "E_ACCESSDENIED"},
        {packet_kind::close_session, 404, "0x80190194", "BG_E_HTTP_ERROR_404"},
        {packet_kind::fragment, 505, "0x801901F9", "BG_E_HTTP_ERROR_505"},
        {packet_kind::create_session, 302, "0x8019012E", "BG_E_HTTP_ERROR_302"},
    }));
    CAPTURE(r.status, r.code);
    const auto d = decide(r.kind, fragment_at(0, 10, 10), policy, error_ack(r.status, r.code));
    CHECK(d.step == next_step::fail);
    CHECK_THAT(d.message, Catch::Contains("HTTP " + std::to_string(r.status)));
    CHECK_THAT(d.message, Catch::Contains(r.code));
    CHECK_THAT(d.message, Catch::Contains(r.name));
    CHECK_THAT(d.message, Catch::Contains(std::string(packet_name(r.kind))));
}

TEST_CASE("client rules: a lower-case error code is reported in the canonical form",
          "[client][rules]") {
    const auto d = decide(packet_kind::create_session, {}, policy,
                          error_ack(403, "80070005", "BITS-Error"));
    CHECK(d.step == next_step::fail);
    CHECK_THAT(d.message, Catch::Contains("0x80070005"));
    CHECK_THAT(d.message, Catch::Contains("context 0x5"));
}

TEST_CASE("client rules: transient statuses retry with backoff", "[client][rules]") {
    const unsigned status = GENERATE(408u, 409u, 500u, 502u, 503u, 504u, 306u);
    CAPTURE(status);
    upload_position at = fragment_at(0, 10, 10);
    at.failures = 2;
    const auto d = decide(packet_kind::fragment, at, policy, ack(status));
    CHECK(d.step == next_step::retry);
    CHECK(d.delay == seconds(4));
    CHECK_THAT(d.message, Catch::Contains(std::to_string(status)));
}

TEST_CASE("client rules: after max_retries retries in a row the client gives up",
          "[client][rules]") {
    retry_policy p;
    p.max_retries = 3;
    upload_position at;
    at.failures = 2;
    CHECK(decide(packet_kind::ping, at, p, ack(503)).step == next_step::retry);
    at.failures = 3;
    const auto d = decide(packet_kind::ping, at, p, ack(503));
    CHECK(d.step == next_step::give_up);
    CHECK_THAT(d.message, Catch::Contains("503"));
    SECTION("transport failures count the same way") {
        CHECK(decide_transport_failure(at, p, "connection refused").step == next_step::give_up);
        at.failures = 0;
        const auto retry = decide_transport_failure(at, p, "connection refused");
        CHECK(retry.step == next_step::retry);
        CHECK(retry.delay == seconds(1));
        CHECK_THAT(retry.message, Catch::Contains("connection refused"));
    }
    SECTION("--retries 0 never retries") {
        p.max_retries = 0;
        at.failures = 0;
        CHECK(decide_transport_failure(at, p, "reset").step == next_step::give_up);
    }
}

TEST_CASE("client rules: backoff doubles from 1 s up to the ceiling", "[client][rules]") {
    CHECK(backoff_delay(1, seconds(60)) == seconds(1));
    CHECK(backoff_delay(2, seconds(60)) == seconds(2));
    CHECK(backoff_delay(3, seconds(60)) == seconds(4));
    CHECK(backoff_delay(6, seconds(60)) == seconds(32));
    CHECK(backoff_delay(7, seconds(60)) == seconds(60));
    CHECK(backoff_delay(1000, seconds(60)) == seconds(60));
    CHECK(backoff_delay(5, seconds(3)) == seconds(3));
    CHECK(backoff_delay(0, seconds(60)) == seconds(1));
}

TEST_CASE("client rules: 401 and 407 are fatal", "[client][rules]") {
    upload_position at;
    SECTION("without credentials: asks for them") {
        const auto d = decide(packet_kind::ping, at, policy, ack(401));
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("requires authentication"));
        CHECK_THAT(d.message, Catch::Contains("--user"));
    }
    SECTION("with credentials: authentication failed") {
        at.credentials_sent = true;
        const auto d = decide(packet_kind::fragment, at, policy, ack(401));
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("authentication failed"));
        const auto proxy = decide(packet_kind::ping, at, policy, ack(407));
        CHECK(proxy.step == next_step::fail);
        CHECK_THAT(proxy.message, Catch::Contains("proxy"));
    }
}

TEST_CASE("client rules: Create-Session", "[client][rules]") {
    const std::string guid = "{7df0354d-249b-430f-820d-3d2a9bef4931}";
    SECTION("the session id is taken") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(200, {{"BITS-Protocol", guid},
                                        {"BITS-Session-Id", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}"}}));
        CHECK(d.step == next_step::session_created);
        CHECK(d.session_id == "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}");
        CHECK_FALSE(d.host_id.has_value());
    }
    SECTION("the protocol GUID is compared case-insensitively; 201 is a success too") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(201, {{"BITS-Protocol", "{7DF0354D-249B-430F-820D-3D2A9BEF4931}"},
                                        {"BITS-Session-Id", "abc"}}));
        CHECK(d.step == next_step::session_created);
        CHECK(d.session_id == "abc");
    }
    SECTION("BITS-Host-Id and its fallback timeout are followed") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(200, {{"BITS-Session-Id", "{S}"}, {"BITS-Host-Id", "node7.farm"},
                                        {"BITS-Host-Id-Fallback-Timeout", "110"}}));
        CHECK(d.step == next_step::session_created);
        REQUIRE(d.host_id.has_value());
        CHECK(*d.host_id == "node7.farm");
        REQUIRE(d.host_id_fallback_timeout_s.has_value());
        CHECK(*d.host_id_fallback_timeout_s == 110);
    }
    SECTION("an IPv6 Host-Id is accepted") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(200, {{"BITS-Session-Id", "{S}"}, {"BITS-Host-Id", "[fe80::1]"}}));
        REQUIRE(d.host_id.has_value());
        CHECK_FALSE(d.host_id_fallback_timeout_s.has_value());
    }
    SECTION("no session id is an invalid response") {
        const auto d = decide(packet_kind::create_session, {}, policy, ack(200));
        CHECK(d.step == next_step::fail);
        CHECK_THAT(d.message, Catch::Contains("BITS-Session-Id"));
    }
    SECTION("another protocol is refused") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(200, {{"BITS-Session-Id", "{S}"}, {"BITS-Protocol", "{0}"}}));
        CHECK(d.step == next_step::fail);
    }
    SECTION("a Host-Id that is not a host is refused") {
        const auto d = decide(packet_kind::create_session, {}, policy,
                              ack(200, {{"BITS-Session-Id", "{S}"}, {"BITS-Host-Id", "a/b@c"}}));
        CHECK(d.step == next_step::fail);
    }
    SECTION("SESSION_NOT_FOUND on Create-Session is no restart (there is no session yet)") {
        const auto d = decide(packet_kind::create_session, {}, policy, error_ack(500, "0x8020001F"));
        CHECK(d.step == next_step::retry);
    }
}

TEST_CASE("client rules: Ping, Close-Session and Cancel-Session proceed on 200", "[client][rules]") {
    for (const auto kind :
         {packet_kind::ping, packet_kind::close_session, packet_kind::cancel_session}) {
        CHECK(decide(kind, {}, policy, ack(200)).step == next_step::proceed);
    }
}

TEST_CASE("client rules: Close-Session before the end is fatal", "[client][rules]") {
    const auto d = decide(packet_kind::close_session, {}, policy, error_ack(400, "0x80070057"));
    CHECK(d.step == next_step::fail);
}

TEST_CASE("client rules: Host-Id fallback after the timeout without success", "[client][rules]") {
    CHECK_FALSE(host_fallback_due(std::nullopt, seconds(1000000)));
    CHECK_FALSE(host_fallback_due(110, seconds(109)));
    CHECK(host_fallback_due(110, seconds(110)));
    CHECK(host_fallback_due(0, seconds(0)));
}

TEST_CASE("client rules: describe_response", "[client][rules]") {
    auto r = error_ack(403, "0x80070005");
    r.reason = "Forbidden";
    CHECK(describe_response(r) ==
          "HTTP 403 Forbidden, BITS error 0x80070005 (E_ACCESSDENIED: access denied), "
          "context 0x5 (the BITS server)");
    CHECK(describe_response(ack(416)) == "HTTP 416");
    auto app = ack(500, {{"BITS-Error", "0x80190194"}, {"BITS-Error-Context", "0x7"}});
    CHECK(describe_response(app) == "HTTP 500, BITS error 0x80190194 (BG_E_HTTP_ERROR_404), "
                                    "context 0x7 (the server's application)");
}
