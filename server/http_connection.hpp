#pragma once
// One client connection: reads a request header, asks upload_service what to do, streams a
// fragment's body into storage in bounded chunks, writes the Ack, and loops while the client
// keeps the connection alive. All of it runs on the connection's strand; every async step is a
// do_x / on_x pair with an error_code, and every read has a deadline.

#include "server/upload_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace bitsd::server {

struct connection_limits {
    std::chrono::seconds read_timeout{120};  // each read of a body chunk
    std::chrono::seconds idle_timeout{120};  // waiting for (the rest of) a request header
};

class http_connection : public std::enable_shared_from_this<http_connection> {
public:
    // A connection belongs to one io_context run by one thread (io_context_pool): its handlers
    // never run concurrently, without a strand and without a type-erased executor.
    using executor_type = boost::asio::io_context::executor_type;
    using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
    using stream_type =
        boost::beast::basic_stream<boost::asio::ip::tcp, executor_type, boost::beast::unlimited_rate_policy>;

    http_connection(socket_type&& socket, upload_service& service, connection_limits limits);
    ~http_connection();

    void run();

private:
    enum class after_body { finish_fragment, send_response };

    void do_read_header();
    void on_read_header(boost::beast::error_code ec, std::size_t bytes);
    void handle_request();
    void on_session_locked();
    void start_fragment_body();
    void on_continue_sent(boost::beast::error_code ec, std::size_t bytes);
    void start_body(after_body next);
    void consume_body(const char* data, std::size_t size);
    void do_read_body();
    void on_read_body(boost::beast::error_code ec, std::size_t bytes);
    void on_body_complete();
    void finish_request(protocol::response response);
    void do_write(protocol::response response);
    void on_write(boost::beast::error_code ec, std::size_t bytes);
    void do_linger();
    void on_linger(boost::beast::error_code ec, std::size_t bytes);
    void close();
    void release_session();
    void reset_request();

    stream_type stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
    upload_service& service_;
    connection_limits limits_;

    // The request in progress.
    std::optional<protocol::packet> packet_;
    protocol::upload_location location_;
    std::optional<std::string> echo_session_id_;
    std::string locked_session_;  // the session whose lock this connection asked for
    bool lock_held_ = false;      // granted: only then may this connection unlock it
    std::optional<fragment_transfer> transfer_;
    std::uint64_t body_left_ = 0;   // body bytes still to come off the wire
    std::uint64_t skip_left_ = 0;   // of those, bytes to read and drop before writing
    std::error_code write_error_;   // first storage failure while streaming
    after_body after_body_ = after_body::send_response;
    std::optional<protocol::response> pending_response_;  // sent once a drained body is read
    bool expects_continue_ = false;
    bool unread_input_ = false;  // the client may still be sending what we will never read
    bool keep_alive_ = false;
    unsigned version_ = 11;
    std::unique_ptr<char[]> chunk_;  // the bounded body buffer, held only while a body streams
    boost::beast::http::response<boost::beast::http::empty_body> response_;  // reused per request
    bool close_after_write_ = false;
};

}  // namespace bitsd::server
