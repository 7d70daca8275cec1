#pragma once
// One connection to the admin listener: reads a GET or HEAD, answers it (keep-alive as the
// client asks), with a deadline on every read and write. Small requests only: a header of at
// most 8 KiB and no body.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>

namespace bitsd::server {

class admin_listener;

class admin_connection : public std::enable_shared_from_this<admin_connection> {
public:
    admin_connection(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<admin_listener> owner);
    void run();

private:
    void do_read();
    void on_read(boost::beast::error_code ec, std::size_t bytes);
    void answer();
    bool refused_host();  // answers 400 or 421 when Host is missing, repeated or not ours
    void answer_from_store(bool metrics);
    void send(unsigned status, std::string content_type, std::string body);
    void on_write(boost::beast::error_code ec, std::size_t bytes);

    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    std::shared_ptr<admin_listener> owner_;
};

}  // namespace bitsd::server
