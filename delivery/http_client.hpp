#pragma once
// The HTTP/1.1 client that delivers uploads to back-ends: asynchronous on the caller's
// io_context (no thread ever blocks on a back-end), with
//   - deadlines: connect (resolve + TCP + TLS handshake), response (the response header, and
//     each body read), and one overall deadline over the whole exchange;
//   - keep-alive connections pooled per scheme://host:port, reused for the next POST, and one
//     silent retry on a fresh connection when a reused one turns out to be closed before any
//     answer byte (the server timed it out; the request is idempotent by its Idempotency-Key);
//   - https:// verified against the system CA store (plus an optional extra PEM file), with SNI
//     and host name verification;
//   - close-delimited responses (no Content-Length, as IIS's own back-end answered) tolerated;
//   - redirects returned as they are, never followed;
//   - the request body streamed from a file (the by-value notification; never whole in memory)
//     or empty; the response body of a 2xx written to a file under a size cap (the by-value
//     reply) or read and dropped.
//
// One client belongs to one io_context, run by one thread (the server's io_context_pool has one
// thread per context): requests may be posted from any thread, handlers run on that context.

#include "protocol/notification.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace bitsd::delivery {

struct http_client_options {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds response_timeout{std::chrono::seconds(120)};
    std::chrono::milliseconds overall_timeout{std::chrono::seconds(120)};
    std::size_t max_idle_per_host = 4;
    // An idle connection older than this is closed instead of reused: most servers drop idle
    // keep-alive connections after 5 to 60 seconds.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(4)};
    // A PEM file of certificates trusted besides the system store (an internal CA); empty: none.
    std::string extra_ca_file;
    std::string user_agent = "bitsd";
};

struct http_request {
    std::string scheme;       // "http" or "https"
    std::string host;         // name or address, without IPv6 brackets
    std::uint16_t port = 80;
    std::string host_header;  // the Host header; empty: host[:port]
    std::string target;       // origin-form request-target
    // Sent as given, in order. Content-Length is set from body_length; Host and User-Agent are
    // added when absent.
    protocol::header_list headers;
    std::string body_file;          // empty: no body
    std::uint64_t body_length = 0;  // must be the body file's size
    std::string reply_file;         // empty: the response body is dropped
    std::uint64_t reply_limit = 64ull * 1024 * 1024;  // a longer 2xx body fails: reply_too_large
    // The whole exchange's deadline for this request (it also caps connect and response);
    // zero: the client's overall_timeout.
    std::chrono::milliseconds overall_timeout{0};

    // The POST of a notification built by protocol::build_notification.
    static http_request post_of(const protocol::notification_request& notification);
};

struct http_response {
    unsigned status = 0;
    protocol::header_list headers;
    std::uint64_t body_bytes = 0;  // body bytes read (written to reply_file for a 2xx)
    bool reply_written = false;    // reply_file holds this response's body (a 2xx with reply_file)
    bool reused_connection = false;
};

// error_code: empty when a response arrived (whatever its status); else Asio/Beast network codes
// or delivery_errc (timed_out, bad_url, body_file_unreadable, reply_file_unwritable,
// reply_too_large, client_stopped).
using http_handler = std::function<void(std::error_code, http_response)>;

class http_client {
public:
    // Throws std::system_error when extra_ca_file cannot be loaded (start-up only).
    http_client(boost::asio::io_context& context, http_client_options options);
    ~http_client();  // stop()
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Starts one exchange; the handler runs exactly once, on the client's io_context.
    void post(http_request request, http_handler handler);

    // Cancels every exchange in flight (their handlers get client_stopped) and closes idle
    // connections. Call it on the io_context's thread, or with the io_context not running.
    void stop();

    // The io_context the client's handlers run on.
    boost::asio::io_context& context() const noexcept;

    // Idle pooled connections (for tests and metrics). On the io_context's thread.
    std::size_t idle_connections() const;

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

// What the notification rules make of an exchange that ended without a response; nullopt for a
// local failure (the body file, the reply file, a stopped client) that is not the back-end's.
std::optional<protocol::backend_transport> classify_transport(const std::error_code& error);

}  // namespace bitsd::delivery
