#include "client/http_channel.hpp"

#include "client/client_error.hpp"
#include "client/interrupt.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <limits>

namespace bitsd::client {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Body chunks stream through a buffer of this size, both ways.
constexpr std::size_t chunk_size = 256 * 1024;
// A response body beyond this (an error page, say) is not worth reading: close instead.
constexpr std::uint64_t drain_limit = 64 * 1024;
constexpr std::uint32_t header_limit = 64 * 1024;
// After a failed write, how long to wait for the answer the server may have sent before it
// closed (a 413 followed by a close loses the race with our body otherwise).
constexpr std::chrono::seconds answer_after_write_error{5};
// How often a wait wakes up to look at the interrupt flag.
constexpr std::chrono::milliseconds poll_interval{100};

std::string serialize_head(const outgoing_request& request) {
    std::string head = request.method + " " + request.target + " HTTP/1.1\r\n";
    for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    return head;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

http_channel::http_channel(channel_timeouts timeouts)
    : timeouts_(timeouts), resolver_(ioc_), stream_(ioc_), chunk_(new char[chunk_size]) {}

http_channel::~http_channel() { close(); }

void http_channel::close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
    close_after_response_ = false;
}

void http_channel::abort_all() {
    resolver_.cancel();
    stream_.cancel();
    stream_.close();
    connected_ = false;
}

std::error_code http_channel::run_until(const bool& done) {
    while (!done) {
        if (interrupted()) {
            abort_all();
            // Let the cancelled operations finish: their handlers refer to our stack frames.
            ioc_.restart();
            while (!done && ioc_.run_one() > 0) {
            }
            return client_errc::interrupted;
        }
        ioc_.restart();
        // One handler at a time: return as soon as ours ran, not when the poll interval ends.
        ioc_.run_one_for(poll_interval);
        if (!done && ioc_.stopped()) {
            // Out of work with the operation unfinished: cannot happen with a started operation;
            // fail instead of spinning.
            return std::make_error_code(std::errc::operation_canceled);
        }
    }
    return {};
}

std::error_code http_channel::connect(const http_url& to) {
    close();
    // Resolve, with its own deadline: a resolver has none.
    tcp::resolver::results_type endpoints;
    beast::error_code resolve_error;
    bool resolved = false;
    bool timer_done = false;
    net::steady_timer timer(ioc_);
    timer.expires_after(timeouts_.connect);
    timer.async_wait([&](beast::error_code ec) {
        timer_done = true;
        if (!ec) resolver_.cancel();
    });
    resolver_.async_resolve(to.host, std::to_string(to.port),
                            [&](beast::error_code ec, tcp::resolver::results_type results) {
                                resolve_error = ec;
                                endpoints = std::move(results);
                                resolved = true;
                            });
    auto error = run_until(resolved);
    timer.cancel();
    if (const auto timer_error = run_until(timer_done); !error) error = timer_error;
    if (error) return error;
    if (resolve_error == net::error::operation_aborted) return beast::error_code(beast::error::timeout);
    if (resolve_error) return resolve_error;

    beast::error_code connect_error;
    bool connected = false;
    stream_.expires_after(timeouts_.connect);
    stream_.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
        connect_error = ec;
        connected = true;
    });
    if (auto ec = run_until(connected)) return ec;
    if (connect_error) return connect_error;
    beast::error_code ignored;
    // The header and the body go out in separate writes; never let Nagle hold the header back.
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    connected_host_ = to.host;
    connected_port_ = to.port;
    return {};
}

std::error_code http_channel::ensure_connected(const http_url& to, bool& reused) {
    reused = connected_ && !close_after_response_ && iequals(connected_host_, to.host) &&
             connected_port_ == to.port;
    if (reused) return {};
    return connect(to);
}

std::error_code http_channel::write(const char* data, std::size_t size) {
    beast::error_code result;
    bool done = false;
    stream_.expires_after(timeouts_.send);
    net::async_write(stream_, net::buffer(data, size), [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    if (auto ec = run_until(done)) return ec;
    return result;
}

std::error_code http_channel::send(const outgoing_request& request, const source_file* source,
                                   const progress_callback& on_progress) {
    const auto head = serialize_head(request);
    if (auto ec = write(head.data(), head.size())) return ec;
    if (request.body_length == 0) return {};

    // Watch for an answer while the body goes out (bitsd answers 413 before reading a body).
    bool watch_done = false;
    bool readable = false;
    stream_.socket().async_wait(tcp::socket::wait_read, [&](beast::error_code ec) {
        watch_done = true;
        readable = !ec;
    });
    std::error_code error;
    std::uint64_t sent = 0;
    while (sent < request.body_length && !readable) {
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(chunk_size, request.body_length - sent));
        if (auto ec = source->read_at(request.body_offset + sent, chunk_.get(), n)) {
            error = ec == client_errc::source_changed ? ec
                                                      : make_error_code(client_errc::source_read_failed);
            break;
        }
        if ((error = write(chunk_.get(), n))) break;
        sent += n;
        if (on_progress) on_progress(sent);
    }
    if (!watch_done) {
        beast::error_code ignored;
        stream_.socket().cancel(ignored);
        if (auto ec = run_until(watch_done); ec && !error) error = ec;
    }
    if (error == client_errc::interrupted || error == client_errc::source_changed ||
        error == client_errc::source_read_failed) {
        return error;
    }
    // The body did not go out whole (an early answer, or a failed write): whatever the server
    // answers, this connection's framing is lost after the answer.
    if (sent < request.body_length) close_after_response_ = true;
    return error;
}

std::error_code http_channel::read_response(response_head& response, const head_callback& on_head,
                                            const data_callback& on_data, bool& response_started) {
    response_started = false;
    for (;;) {
        http::response_parser<http::buffer_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        beast::error_code result;
        bool done = false;
        stream_.expires_after(timeouts_.response);
        http::async_read_header(stream_, buffer_, parser, [&](beast::error_code ec, std::size_t) {
            result = ec;
            done = true;
        });
        if (auto ec = run_until(done)) return ec;
        if (result == http::error::header_limit) return client_errc::response_too_large;
        if (result) return result;
        response_started = true;
        const auto& message = parser.get();
        const auto status = message.result_int();
        // Interim answers (100 Continue, 102 Processing) precede the real one.
        if (status >= 100 && status < 200 && status != 101) continue;

        response.status = status;
        response.reason = std::string(message.reason());
        response.headers.clear();
        for (const auto& field : message) {
            response.headers.emplace_back(std::string(field.name_string()),
                                          std::string(field.value()));
        }
        if (on_head) {
            if (auto ec = on_head(response)) {
                close_after_response_ = true;
                return ec;
            }
        }

        std::uint64_t drained = 0;
        while (!parser.is_done()) {
            parser.get().body().data = chunk_.get();
            parser.get().body().size = chunk_size;
            result = {};
            done = false;
            stream_.expires_after(timeouts_.response);
            http::async_read(stream_, buffer_, parser, [&](beast::error_code ec, std::size_t) {
                result = ec;
                done = true;
            });
            if (auto ec = run_until(done)) return ec;
            if (result == http::error::need_buffer) result = {};
            const auto got = chunk_size - parser.get().body().size;
            if (on_data) {
                if (got > 0) {
                    if (auto ec = on_data(chunk_.get(), got)) {
                        close_after_response_ = true;
                        return ec;
                    }
                }
                if (result) return result;
            } else {
                // Acks carry no body; an error page's body is read and dropped, a large one is
                // cut off by closing the connection.
                drained += got;
                if (result || drained > drain_limit) {
                    close_after_response_ = true;
                    return {};
                }
            }
        }
        if (!parser.get().keep_alive()) close_after_response_ = true;
        return {};
    }
}

std::error_code http_channel::exchange(const http_url& to, const outgoing_request& request,
                                       const source_file* source, response_head& response,
                                       const progress_callback& on_progress) {
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        if (auto ec = ensure_connected(to, reused)) {
            close();
            return ec;
        }
        auto error = send(request, source, on_progress);
        bool response_started = false;
        if (!error) {
            error = read_response(response, {}, {}, response_started);
        } else if (error != client_errc::interrupted && error != client_errc::source_changed &&
                   error != client_errc::source_read_failed && connected_) {
            // The write failed: the server may have answered and closed (a 413, a 401) before
            // it took the body. Give that answer a moment to be read.
            const auto saved = timeouts_.response;
            timeouts_.response = answer_after_write_error;
            const auto read_error = read_response(response, {}, {}, response_started);
            timeouts_.response = saved;
            if (!read_error) {
                error = {};
                close_after_response_ = true;
            }
        }
        if (!error) {
            if (close_after_response_) close();
            return {};
        }
        close();
        // A kept-alive connection the server had already closed fails before any answer:
        // that is not the server's verdict on this request, so try once on a fresh one.
        if (reused && !response_started && attempt == 0 && error != client_errc::interrupted &&
            error != client_errc::source_changed && error != client_errc::source_read_failed) {
            continue;
        }
        return error;
    }
}

std::error_code http_channel::download(const http_url& from, const outgoing_request& request,
                                       response_head& response, const head_callback& on_head,
                                       const data_callback& on_data) {
    bool reused = false;
    if (auto ec = ensure_connected(from, reused)) {
        close();
        return ec;
    }
    auto error = send(request, nullptr, {});
    bool response_started = false;
    if (!error) error = read_response(response, on_head, on_data, response_started);
    if (error || close_after_response_) close();
    return error;
}

}  // namespace bitsd::client
