#pragma once
// A synchronous-looking HTTP/1.1 channel over Beast: one keep-alive connection, reopened when
// it breaks or the host changes; every step (resolve, connect, each write, each read) has a
// deadline. Internally the steps are Asio async operations run on a private io_context, which is
// what gives them deadlines (beast::tcp_stream::expires_after) and lets Ctrl-C cancel them.
//
// A request's header is written first, then its body streams from the file in 256 KiB chunks
// (never a whole fragment in memory). While the body streams, the channel watches for an early
// answer (a 413 sent before the body was read): it stops sending, reads the answer, and closes
// the connection afterwards. A response body is drained (at most 64 KiB, else the connection is
// closed) or, for downloads, handed to a callback chunk by chunk.

#include "client/request_builder.hpp"
#include "client/source_file.hpp"
#include "client/upload_rules.hpp"
#include "client/url.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace bitsd::client {

struct channel_timeouts {
    std::chrono::seconds connect{30};    // resolve + connect
    std::chrono::seconds send{120};      // each chunk written (the Windows client's 2 min)
    std::chrono::seconds response{300};  // the response header, and each body chunk (5 min)
};

class http_channel {
public:
    // Called after each body chunk went out, with the body bytes sent so far.
    using progress_callback = std::function<void(std::uint64_t sent)>;
    // Receives a downloaded body chunk by chunk; an error stops the download.
    using data_callback = std::function<std::error_code(const char* data, std::size_t size)>;
    // Sees the response header before any body byte; an error stops the download.
    using head_callback = std::function<std::error_code(const response_head& head)>;

    explicit http_channel(channel_timeouts timeouts);
    ~http_channel();
    http_channel(const http_channel&) = delete;
    http_channel& operator=(const http_channel&) = delete;

    // Sends `request` to `to` (its body read from `source` when body_length > 0) and reads the
    // response header into `response`. Errors are the network's (Asio/Beast codes) or
    // client_errc: interrupted, source_read_failed, source_changed.
    std::error_code exchange(const http_url& to, const outgoing_request& request,
                             const source_file* source, response_head& response,
                             const progress_callback& on_progress = {});

    // Sends a body-less request and streams the response body into on_data.
    std::error_code download(const http_url& from, const outgoing_request& request,
                             response_head& response, const head_callback& on_head,
                             const data_callback& on_data);

    void close();

private:
    std::error_code ensure_connected(const http_url& to, bool& reused);
    std::error_code connect(const http_url& to);
    std::error_code send(const outgoing_request& request, const source_file* source,
                         const progress_callback& on_progress);
    std::error_code write(const char* data, std::size_t size);
    std::error_code read_response(response_head& response, const head_callback& on_head,
                                  const data_callback& on_data, bool& response_started);
    std::error_code run_until(const bool& done);
    void abort_all();

    channel_timeouts timeouts_;
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::unique_ptr<char[]> chunk_;
    bool connected_ = false;
    bool close_after_response_ = false;
    std::string connected_host_;
    std::uint16_t connected_port_ = 0;
};

}  // namespace bitsd::client
