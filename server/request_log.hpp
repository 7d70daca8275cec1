#pragma once
// What a connection observes about each request for the operator: it counts the request in the
// metrics, writes its access line and remembers a rejection for the status page. A connection
// owns one and calls it at three points: the request's first byte, the answer, and the end (the
// answer written, or the body lost). Cheap when the access log is off: a clock read at start and
// end, a few relaxed atomic increments, no allocation (the fields are views into the parser).

#include "protocol/engine.hpp"
#include "server/metrics.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::server {

class request_log {
public:
    using clock = std::chrono::steady_clock;
    using request_type = boost::beast::http::request<boost::beast::http::empty_body>;

    // The request's first byte arrived.
    void started() noexcept { started_ = clock::now(); }
    // The answer about to be written: its status, BITS error, and a new session's id.
    void answered(const protocol::response& response);
    // The answer was written (or, with `lost`, the connection ended before one could be: the
    // body stopped arriving). `request` is null when no header could be parsed.
    void finished(const boost::asio::ip::tcp::endpoint& peer, const request_type* request,
                  std::optional<protocol::packet_kind> kind, std::uint64_t body_bytes,
                  const char* lost = nullptr);

private:
    clock::time_point started_{};
    unsigned status_ = 0;
    std::array<char, 16> error_{};  // "0x8020001F": the BITS-Error-Code of the answer
    std::size_t error_size_ = 0;
    std::string created_session_;   // the id a Create-Session answer carries
};

// trace: the request's header fields, one line, values escaped; the values of fields that carry
// credentials (Authorization, Proxy-Authorization, Cookie) are replaced by "[redacted]". Call
// only when trace is enabled.
void trace_request(const boost::asio::ip::tcp::endpoint& peer, const request_log::request_type& request);

// True for header fields whose values never reach a log line.
bool is_secret_field(std::string_view name) noexcept;

request_kind to_request_kind(std::optional<protocol::packet_kind> kind) noexcept;

// "1.2.3.4:5" or "[::1]:5" (for logs).
std::string format_peer(const boost::asio::ip::tcp::endpoint& peer);

}  // namespace bitsd::server
