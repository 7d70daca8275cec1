// The requests bits-upload sends, header by header (bits-protocol.md §2), Content-Range
// formatting, Basic authorization and Content-Name.

#include "client/request_builder.hpp"
#include "client/upload_rules.hpp"

#include "protocol/content_range.hpp"

#include <catch2/catch.hpp>

using namespace bitsd::client;
using bitsd::protocol::packet_kind;

namespace {

std::string header(const outgoing_request& r, std::string_view name) {
    const auto v = find_header(r.headers, name);
    return v ? std::string(*v) : std::string("<absent>");
}

const http_url url = *parse_url("http://server:8080/uploads/a%20b.bin").url;
const request_builder builder("bits-upload/9.9", std::string("Basic YTpi"), "a b.bin");
const request_builder anonymous("bits-upload/9.9", std::nullopt, "f");

}  // namespace

TEST_CASE("client requests: Content-Range formatting", "[client][requests]") {
    CHECK(format_content_range(0, 4892, 4892) == "bytes 0-4891/4892");
    CHECK(format_content_range(128, 85, 213) == "bytes 128-212/213");
    CHECK(format_content_range(0, 1, 1) == "bytes 0-0/1");
    CHECK(format_content_range(18446744073709551614ull, 1, 18446744073709551615ull) ==
          "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
    // What the client formats, the server's parser reads back.
    const auto parsed = bitsd::protocol::parse_content_range(format_content_range(100, 50, 1000));
    REQUIRE(parsed.has_value());
    CHECK(parsed->first == 100);
    CHECK(parsed->last == 149);
    CHECK(parsed->total == 1000);
}

TEST_CASE("client requests: Basic authorization", "[client][requests]") {
    CHECK(basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(basic_authorization("a", "b") == "Basic YTpi");
    CHECK(basic_authorization("", "") == "Basic Og==");
    CHECK(basic_authorization("user", "p:w\xc3\xa9") == "Basic dXNlcjpwOnfDqQ==");
}

TEST_CASE("client requests: Content-Name is a plain file name", "[client][requests]") {
    CHECK(content_name_for("/home/u/report.pdf") == "report.pdf");
    CHECK(content_name_for("C:\\logs\\app.log") == "app.log");
    CHECK(content_name_for("a:b*c?d\"e<f>g|h") == "a_b_c_d_e_f_g_h");
    CHECK(content_name_for("caf\xc3\xa9\t.txt") == "caf___.txt");
    CHECK(content_name_for("dir/") == "file");
    CHECK(content_name_for(std::string(300, 'x')).size() == 260);
}

TEST_CASE("client requests: every packet is BITS_POST to the destination with the common "
          "headers", "[client][requests]") {
    for (const auto& r : {builder.ping(url), builder.create_session(url),
                          builder.fragment(url, "{S}", 0, 10, 100), builder.close_session(url, "{S}"),
                          builder.cancel_session(url, "{S}")}) {
        CHECK(r.method == "BITS_POST");
        CHECK(r.target == "/uploads/a%20b.bin");
        CHECK(header(r, "Host") == "server:8080");
        CHECK(header(r, "User-Agent") == "bits-upload/9.9");
        CHECK(header(r, "Authorization") == "Basic YTpi");
    }
    CHECK(header(anonymous.ping(url), "Authorization") == "<absent>");
}

TEST_CASE("client requests: Ping", "[client][requests]") {
    const auto r = builder.ping(url);
    CHECK(r.kind == packet_kind::ping);
    CHECK(header(r, "BITS-Packet-Type") == "Ping");
    CHECK(header(r, "Content-Length") == "0");
    CHECK(header(r, "BITS-Session-Id") == "<absent>");
    CHECK(r.body_length == 0);
}

TEST_CASE("client requests: Create-Session", "[client][requests]") {
    const auto r = builder.create_session(url);
    CHECK(r.kind == packet_kind::create_session);
    CHECK(header(r, "BITS-Packet-Type") == "Create-Session");
    CHECK(header(r, "BITS-Supported-Protocols") == "{7df0354d-249b-430f-820d-3d2a9bef4931}");
    CHECK(header(r, "Content-Name") == "a b.bin");
    CHECK(header(r, "Content-Length") == "0");
    CHECK(header(r, "BITS-Session-Id") == "<absent>");
}

TEST_CASE("client requests: Fragment", "[client][requests]") {
    const auto r = builder.fragment(url, "{S}", 4096, 1024, 8192);
    CHECK(r.kind == packet_kind::fragment);
    CHECK(header(r, "BITS-Packet-Type") == "Fragment");
    CHECK(header(r, "BITS-Session-Id") == "{S}");
    CHECK(header(r, "Content-Range") == "bytes 4096-5119/8192");
    CHECK(header(r, "Content-Length") == "1024");
    CHECK(header(r, "Content-Name") == "a b.bin");
    CHECK(r.body_offset == 4096);
    CHECK(r.body_length == 1024);
}

TEST_CASE("client requests: Close-Session and Cancel-Session", "[client][requests]") {
    const auto close = builder.close_session(url, "{S}");
    CHECK(close.kind == packet_kind::close_session);
    CHECK(header(close, "BITS-Packet-Type") == "Close-Session");
    CHECK(header(close, "BITS-Session-Id") == "{S}");
    CHECK(header(close, "Content-Length") == "0");
    const auto cancel = builder.cancel_session(url, "{S}");
    CHECK(cancel.kind == packet_kind::cancel_session);
    CHECK(header(cancel, "BITS-Packet-Type") == "Cancel-Session");
    CHECK(header(cancel, "BITS-Session-Id") == "{S}");
    CHECK(header(cancel, "Content-Length") == "0");
}

TEST_CASE("client requests: the Host-Id host goes in the Host header", "[client][requests]") {
    CHECK(header(builder.ping(with_host(url, "node7")), "Host") == "node7:8080");
    CHECK(header(builder.ping(with_host(url, "fe80::1")), "Host") == "[fe80::1]:8080");
}

TEST_CASE("client requests: the reply GET", "[client][requests]") {
    const auto same = *parse_url("http://server:8080/replies/r1").url;
    const auto other = *parse_url("http://elsewhere/replies/r1").url;
    const auto first = builder.reply_get(same, url, 0);
    CHECK(first.method == "GET");
    CHECK(first.target == "/replies/r1");
    CHECK(header(first, "Range") == "<absent>");
    CHECK(header(first, "Accept-Encoding") == "identity");
    CHECK(header(first, "Authorization") == "Basic YTpi");
    CHECK(first.body_length == 0);
    CHECK(header(builder.reply_get(same, url, 1000), "Range") == "bytes=1000-");
    // Credentials never travel to another server.
    CHECK(header(builder.reply_get(other, url, 0), "Authorization") == "<absent>");
    CHECK(header(builder.reply_get(other, url, 0), "Host") == "elsewhere");
}
