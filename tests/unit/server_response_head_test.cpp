// The hand-formatted Ack head must be byte for byte what Beast's serializer writes for the same
// response, so replacing the serializer on the hot path changes no answer on the wire.
#include "server/response_head.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include <sstream>

namespace {

namespace http = boost::beast::http;
using bitsd::protocol::response;

std::string beast_head(unsigned version, const response& r, bool keep_alive) {
    http::response<http::empty_body> m;
    m.version(version);
    m.result(r.status);
    m.set(http::field::server, "bitsd");
    for (const auto& [name, value] : r.headers) m.insert(name, value);
    m.content_length(0);
    m.keep_alive(keep_alive);
    std::ostringstream out;
    out << m;
    return out.str();
}

}  // namespace

TEST_CASE("response head matches Beast's serializer", "[server]") {
    response ack;
    ack.headers = {{"BITS-Packet-Type", "Ack"}, {"BITS-Session-Id", "{5D8E0D3C-6E07-4A7E-9E48-C0A2C4F9D4B1}"}};
    response error;
    error.status = 416;
    error.headers = {{"BITS-Packet-Type", "Ack"}, {"BITS-Received-Content-Range", "4096"}};
    response busy;
    busy.status = 503;
    busy.headers = {{"BITS-Packet-Type", "Ack"}, {"BITS-Error-Code", "0x801901F7"},
                    {"BITS-Error", "0x801901F7"}, {"BITS-Error-Context", "0x5"}, {"Retry-After", "5"}};
    response odd;  // a status Beast knows no reason phrase for
    odd.status = 599;
    for (const response* r : {&ack, &error, &busy, &odd}) {
        for (unsigned version : {10u, 11u}) {
            for (bool keep_alive : {true, false}) {
                CAPTURE(r->status, version, keep_alive);
                std::string mine = "left over from the previous request";
                bitsd::server::format_response_head(mine, version, *r, keep_alive);
                CHECK(mine == beast_head(version, *r, keep_alive));
            }
        }
    }
}
