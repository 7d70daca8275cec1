#include "server/http_connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace bitsd::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using protocol::bits_errc;

// Bodies stream through a buffer of this size: large enough for few system calls per
// fragment, small enough that a connection's memory stays bounded whatever the fragment size.
constexpr std::size_t body_chunk_size = 256 * 1024;
// A rejected request's body up to this size is read and dropped so the connection can be
// reused; a larger one is not worth the bandwidth: the connection is closed instead.
constexpr std::uint64_t drain_limit = 64 * 1024;
// Header block limit; single values are limited to 4096 bytes by the protocol rules.
constexpr std::uint32_t header_limit = 64 * 1024;
// After answering without reading a body, how long to keep reading (and dropping) what the
// client still sends, so the close does not reset the connection before it read the answer.
constexpr std::chrono::seconds linger_timeout{3};

std::optional<std::string_view> field(const http::request<http::empty_body>& req,
                                      std::string_view name) {
    const auto it = req.find(beast::string_view(name.data(), name.size()));
    if (it == req.end()) return std::nullopt;
    const auto value = it->value();
    return std::string_view(value.data(), value.size());
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

protocol::request_view view_of(const http::request<http::empty_body>& req) {
    protocol::request_view view;
    const auto method = req.method_string();
    view.method = std::string_view(method.data(), method.size());
    const auto target = req.target();
    view.target = std::string_view(target.data(), target.size());
    view.packet_type = field(req, "BITS-Packet-Type");
    view.session_id = field(req, "BITS-Session-Id");
    view.content_length = field(req, "Content-Length");
    view.content_range = field(req, "Content-Range");
    view.supported_protocols = field(req, "BITS-Supported-Protocols");
    view.content_encoding = field(req, "Content-Encoding");
    view.chunked = req.find(http::field::transfer_encoding) != req.end();
    for (const auto& f : req) view.longest_header_value = std::max(view.longest_header_value, f.value().size());
    // The engine refuses repeated fields and a missing Host; it needs the counts to see them.
    view.http_version = req.version();
    view.host_count = req.count(http::field::host);
    view.packet_type_count = req.count("BITS-Packet-Type");
    view.session_id_count = req.count("BITS-Session-Id");
    view.content_length_count = req.count(http::field::content_length);
    view.content_range_count = req.count(http::field::content_range);
    return view;
}

}  // namespace

http_connection::http_connection(socket_type&& socket, upload_service& service,
                                 connection_limits limits)
    : stream_(std::move(socket)), service_(service), limits_(limits) {}

http_connection::~http_connection() { release_session(); }

void http_connection::run() {
    // Start on the connection's own io_context (accepting ran on the listener's).
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read_header(); });
}

void http_connection::reset_request() {
    packet_.reset();
    location_ = {};
    echo_session_id_.reset();
    transfer_.reset();
    body_left_ = skip_left_ = 0;
    write_error_.clear();
    pending_response_.reset();
    expects_continue_ = false;
    unread_input_ = false;
    chunk_.reset();
}

void http_connection::do_read_header() {
    reset_request();
    parser_.emplace();
    parser_->header_limit(header_limit);
    // Beast refuses bodies over 1 MB at header time by default; the body never passes through
    // the parser here, and the engine answers 413 above max_fragment_size itself.
    parser_->body_limit(boost::none);
    stream_.expires_after(limits_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&http_connection::on_read_header, shared_from_this()));
}

void http_connection::on_read_header(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
        return close();
    }
    if (ec) {
        // Not HTTP we can read: answer once, then close (the stream position is unknown).
        spdlog::debug("bad request header: {}", ec.message());
        keep_alive_ = false;
        close_after_write_ = true;
        unread_input_ = true;
        const auto error = ec == http::error::header_limit ? bits_errc::header_too_long
                                                            : bits_errc::malformed_request;
        return do_write(service_.reject({error, {}}, std::nullopt));
    }
    handle_request();
}

void http_connection::handle_request() {
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const protocol::request_view view = view_of(req);
    const auto expect = field(req, "Expect");
    // HTTP/1.0 clients must never get a 100 Continue (RFC 7231 5.1.1).
    expects_continue_ = version_ >= 11 && expect && iequals(*expect, "100-continue");
    body_left_ = parser_->content_length().value_or(0);
    if (view.chunked) {
        // A chunked body's end is unknown to us: answer, then close with a lingering read.
        keep_alive_ = false;
        unread_input_ = true;
    }
    if (view.session_id) echo_session_id_ = std::string(*view.session_id);

    auto routed = protocol::route(view.method, view.target, service_.url_prefixes());
    if (routed.error) {
        // A client's mistake, not the server's: debug, never once per request at error level.
        spdlog::debug("{} refused: {}", view.method, routed.error.message());
        return finish_request(service_.reject({routed.error, {}}, echo_session_id_));
    }
    location_ = std::move(routed.location);

    auto parsed = service_.engine().parse(view);
    if (!parsed) return finish_request(service_.reject(parsed.failure, echo_session_id_));
    packet_ = std::move(parsed.value);
    echo_session_id_ = packet_->sent_session_id;

    switch (packet_->kind) {
    case protocol::packet_kind::ping:
        return finish_request(service_.ping(*packet_));
    case protocol::packet_kind::create_session:
        return finish_request(service_.create_session(*packet_, location_));
    default:
        break;
    }
    if (!packet_->session_id_valid) {
        // Never a key for storage or the lock table; the engine answers "not found".
        return on_session_locked();
    }
    // One request at a time per session: wait (without blocking a thread) for the lock, then
    // continue on this connection's strand.
    locked_session_ = *packet_->session_id;
    service_.locks().lock(locked_session_, [self = shared_from_this()] {
        net::post(self->stream_.get_executor(), [self] { self->on_session_locked(); });
    });
}

void http_connection::on_session_locked() {
    lock_held_ = !locked_session_.empty();
    switch (packet_->kind) {
    case protocol::packet_kind::close_session:
        return finish_request(service_.close_session(*packet_, location_));
    case protocol::packet_kind::cancel_session:
        return finish_request(service_.cancel_session(*packet_, location_));
    default:
        break;
    }
    auto begun = service_.begin_fragment(*packet_, location_);
    if (!begun) return finish_request(service_.reject(begun.failure, echo_session_id_));
    transfer_ = std::move(begun.value);
    skip_left_ = transfer_->plan.skip;
    start_fragment_body();
}

void http_connection::start_fragment_body() {
    if (!expects_continue_ || body_left_ == 0) return start_body(after_body::finish_fragment);
    // The client waits for this before it sends the body (curl does for large bodies).
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    expects_continue_ = false;
    stream_.expires_after(limits_.read_timeout);
    net::async_write(stream_, net::buffer(continue_line.data(), continue_line.size()),
                     beast::bind_front_handler(&http_connection::on_continue_sent, shared_from_this()));
}

void http_connection::on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) {
        release_session();
        return close();
    }
    start_body(after_body::finish_fragment);
}

void http_connection::start_body(after_body next) {
    after_body_ = next;
    // Body bytes that arrived together with the header are already in buffer_.
    const std::size_t buffered = static_cast<std::size_t>(
        std::min<std::uint64_t>(buffer_.size(), body_left_));
    if (buffered > 0) {
        const auto data = buffer_.data();
        consume_body(static_cast<const char*>(data.data()), buffered);
        buffer_.consume(buffered);
    }
    if (body_left_ == 0) return on_body_complete();
    chunk_ = std::make_unique<char[]>(body_chunk_size);
    do_read_body();
}

void http_connection::consume_body(const char* data, std::size_t size) {
    body_left_ -= size;
    const std::size_t skipped = static_cast<std::size_t>(std::min<std::uint64_t>(skip_left_, size));
    skip_left_ -= skipped;
    data += skipped;
    size -= skipped;
    if (size == 0 || !transfer_ || !transfer_->appender || write_error_) return;
    // Never more than the plan says: the fragment's range ends where its body ends.
    if (const auto ec = transfer_->appender->write(data, size)) write_error_ = ec;
}

void http_connection::do_read_body() {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, body_chunk_size));
    stream_.expires_after(limits_.read_timeout);
    // Straight from the socket into the bounded chunk: the Content-Length is known and the
    // parser has nothing left to do for an identity body, so this saves a copy per byte.
    stream_.async_read_some(net::buffer(chunk_.get(), want),
                            beast::bind_front_handler(&http_connection::on_read_body, shared_from_this()));
}

void http_connection::on_read_body(beast::error_code ec, std::size_t bytes) {
    if (bytes > 0) consume_body(chunk_.get(), bytes);
    if (ec) {
        // The client went away mid-body. What was written stays: the stored length is the
        // truth, and the client resumes from there.
        spdlog::debug("session {}: connection lost mid-body: {}", echo_session_id_.value_or("-"), ec.message());
        if (transfer_ && transfer_->appender) transfer_->appender->finish();
        transfer_.reset();
        release_session();
        return close();
    }
    if (body_left_ > 0) return do_read_body();
    on_body_complete();
}

void http_connection::on_body_complete() {
    chunk_.reset();
    if (after_body_ == after_body::send_response) {
        auto response = std::move(*pending_response_);
        pending_response_.reset();
        return do_write(std::move(response));
    }
    auto response = service_.finish_fragment(*packet_, *transfer_, write_error_);
    transfer_.reset();
    finish_request(std::move(response));
}

void http_connection::finish_request(protocol::response response) {
    // The answer is known. Release the session before writing: the next request of this
    // session may be waiting on another connection.
    release_session();
    if (body_left_ == 0) return do_write(std::move(response));
    if (!response.close_connection && !expects_continue_ && body_left_ <= drain_limit &&
        keep_alive_) {
        pending_response_ = std::move(response);
        skip_left_ = body_left_;
        transfer_.reset();
        return start_body(after_body::send_response);
    }
    // The body is not read: answer, then close (lingering, so the answer is not lost).
    keep_alive_ = false;
    close_after_write_ = true;
    do_write(std::move(response));
}

void http_connection::do_write(protocol::response response) {
    if (response.close_connection) {
        keep_alive_ = false;
        close_after_write_ = true;
    }
    response_ = {};
    response_.version(version_ == 10 ? 10 : 11);
    response_.result(response.status);
    response_.set(http::field::server, "bitsd");
    for (auto& [name, value] : response.headers) response_.insert(name, value);
    response_.content_length(0);
    response_.keep_alive(keep_alive_);
    stream_.expires_after(limits_.read_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&http_connection::on_write, shared_from_this()));
}

void http_connection::on_write(beast::error_code ec, std::size_t) {
    if (ec) return close();
    if (!keep_alive_ || close_after_write_) {
        if (body_left_ > 0 || unread_input_) return do_linger();
        return close();
    }
    do_read_header();
}

void http_connection::do_linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    if (!chunk_) chunk_ = std::make_unique<char[]>(body_chunk_size);
    stream_.expires_after(linger_timeout);
    stream_.async_read_some(net::buffer(chunk_.get(), body_chunk_size),
                            beast::bind_front_handler(&http_connection::on_linger, shared_from_this()));
}

void http_connection::on_linger(beast::error_code ec, std::size_t) {
    if (ec) return close();
    stream_.async_read_some(net::buffer(chunk_.get(), body_chunk_size),
                            beast::bind_front_handler(&http_connection::on_linger, shared_from_this()));
}

void http_connection::close() {
    release_session();
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
}

void http_connection::release_session() {
    transfer_.reset();  // close the session's file before another request may open it
    if (!lock_held_) {
        // Never granted (e.g. destroyed while waiting, at shutdown): nothing to release, and
        // unlocking would release another connection's lock.
        locked_session_.clear();
        return;
    }
    lock_held_ = false;
    std::string id = std::move(locked_session_);
    locked_session_.clear();
    service_.locks().unlock(id);
}

}  // namespace bitsd::server
