#include "delivery/http_client.hpp"

#include "delivery/delivery_error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

namespace bitsd::delivery {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

// A response body is read through a buffer of this size.
constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::uint32_t header_limit = 64 * 1024;
// A dropped body (an error page) longer than this is not worth reading: the connection is closed
// instead of kept.
constexpr std::uint64_t drop_limit = 1024 * 1024;

// Asio and Beast report boost::system codes; ours are std. A boost code converted to std compares
// equal to the same boost code converted to std, whatever category mapping Boost.System applies.
template <class Enum>
bool is(const std::error_code& ec, Enum e) {
    return ec == static_cast<std::error_code>(beast::error_code(e));
}

bool has_line_break(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// One pooled connection: plain TCP or TLS over TCP, with its read buffer.
struct connection {
    connection(net::io_context& context, ssl::context* tls) {
        if (tls) {
            secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(context, *tls);
        } else {
            plain.emplace(context);
        }
    }
    beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }

    // A pooled connection the server closed (or wrote to) while it sat idle is not reusable:
    // a non-blocking peek tells without consuming anything.
    bool looks_alive() {
        auto& socket = lowest().socket();
        if (!socket.is_open()) return false;
        char byte = 0;
        const auto got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    void close() {
        beast::error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().close();
    }

    std::optional<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    steady::time_point idle_since;
};

template <class Function>
void with_stream(connection& c, Function&& f) {
    if (c.secure) {
        f(*c.secure);
    } else {
        f(*c.plain);
    }
}

class exchange;

}  // namespace

class http_client::impl : public std::enable_shared_from_this<http_client::impl> {
public:
    impl(net::io_context& context, http_client_options options)
        : context_(context), options_(std::move(options)), tls_(ssl::context::tls_client) {
        tls_.set_default_verify_paths();
        if (!options_.extra_ca_file.empty()) {
            beast::error_code ec;
            tls_.load_verify_file(options_.extra_ca_file, ec);
            if (ec) throw std::system_error(ec, "cannot load CA file " + options_.extra_ca_file);
        }
        tls_.set_verify_mode(ssl::verify_peer);
        SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    }

    net::io_context& context() { return context_; }
    const http_client_options& options() const { return options_; }
    ssl::context& tls() { return tls_; }
    bool stopped() const { return stopped_; }

    std::unique_ptr<connection> take_idle(const std::string& key) {
        const auto found = idle_.find(key);
        if (found == idle_.end()) return nullptr;
        auto& pool = found->second;
        const auto now = steady::now();
        while (!pool.empty()) {
            auto candidate = std::move(pool.back());
            pool.pop_back();
            if (now - candidate->idle_since < options_.idle_timeout && candidate->looks_alive()) {
                return candidate;
            }
            candidate->close();
        }
        return nullptr;
    }

    void give_back(const std::string& key, std::unique_ptr<connection> c) {
        auto& pool = idle_[key];
        if (stopped_ || pool.size() >= options_.max_idle_per_host || c->buffer.size() != 0) {
            c->close();
            return;
        }
        c->idle_since = steady::now();
        pool.push_back(std::move(c));
    }

    std::size_t idle_count() const {
        std::size_t n = 0;
        for (const auto& [key, pool] : idle_) n += pool.size();
        return n;
    }

    void add(exchange* e) { active_.insert(e); }
    void remove(exchange* e) { active_.erase(e); }
    void stop();

private:
    net::io_context& context_;
    http_client_options options_;
    ssl::context tls_;
    bool stopped_ = false;
    std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
    std::unordered_set<exchange*> active_;
};

namespace {

// One request and its response, from acquiring a connection to calling the handler.
class exchange : public std::enable_shared_from_this<exchange> {
public:
    exchange(std::shared_ptr<http_client::impl> owner, http_request request, http_handler handler)
        : owner_(std::move(owner)),
          request_(std::move(request)),
          handler_(std::move(handler)),
          resolver_(owner_->context()),
          resolve_timer_(owner_->context()),
          chunk_(new char[read_chunk]) {}

    void start() {
        // A request's own timeout (a prefix's notification timeout_s) replaces the client's.
        deadline_ = steady::now() + (request_.overall_timeout.count() > 0
                                         ? request_.overall_timeout
                                         : owner_->options().overall_timeout);
        if (request_.scheme != "http" && request_.scheme != "https") return finish(delivery_errc::bad_url);
        if (request_.host.empty() || request_.port == 0 || request_.target.empty() ||
            request_.target.front() != '/' || has_line_break(request_.target) ||
            has_line_break(request_.host) || has_line_break(request_.host_header)) {
            return finish(delivery_errc::bad_url);
        }
        key_ = request_.scheme + "://" + lower(request_.host) + ":" + std::to_string(request_.port);
        owner_->add(this);
        registered_ = true;
        if (auto ec = prepare_request()) return finish(ec);
        conn_ = owner_->take_idle(key_);
        if (conn_) {
            reused_ = true;
            return send();
        }
        resolve();
    }

    void cancel() {
        cancelled_ = true;
        resolver_.cancel();
        resolve_timer_.cancel();
        if (conn_) {
            conn_->lowest().cancel();
            conn_->close();
        }
    }

private:
    // The time left for a step: its own limit, cut short by the overall deadline.
    steady::duration budget(steady::duration step) const {
        return std::min<steady::duration>(step, deadline_ - steady::now());
    }
    bool out_of_time() const { return steady::now() >= deadline_; }

    std::error_code prepare_request() {
        file_request_.reset();
        empty_request_.reset();
        for (const auto& [name, value] : request_.headers) {
            if (name.empty() || has_line_break(name) || has_line_break(value)) return delivery_errc::bad_header;
        }
        const auto fill = [this](auto& message) {
            message.method(http::verb::post);
            message.target(request_.target);
            message.version(11);
            for (const auto& [name, value] : request_.headers) {
                if (beast::iequals(name, "Content-Length")) continue;
                message.insert(name, value);
            }
            if (message.find(http::field::host) == message.end()) {
                const bool v6 = request_.host.find(':') != std::string::npos;
                const auto default_port = request_.scheme == "https" ? 443 : 80;
                auto host = request_.host_header;
                if (host.empty()) {
                    host = v6 ? "[" + request_.host + "]" : request_.host;
                    if (request_.port != default_port) host += ":" + std::to_string(request_.port);
                }
                message.set(http::field::host, host);
            }
            if (message.find(http::field::user_agent) == message.end()) {
                message.set(http::field::user_agent, owner_->options().user_agent);
            }
        };
        if (request_.body_file.empty()) {
            if (request_.body_length != 0) return delivery_errc::body_file_unreadable;
            empty_request_.emplace();
            fill(*empty_request_);
            empty_request_->content_length(0);
            return {};
        }
        file_request_.emplace();
        beast::error_code ec;
        file_request_->body().open(request_.body_file.c_str(), beast::file_mode::scan, ec);
        // The by-value body is the finalised upload: a size other than the session's is a bug
        // or an outside change, never something to send.
        if (ec || file_request_->body().size() != request_.body_length) {
            return delivery_errc::body_file_unreadable;
        }
        fill(*file_request_);
        file_request_->content_length(request_.body_length);
        return {};
    }

    void resolve() {
        connect_deadline_ = steady::now() + owner_->options().connect_timeout;
        resolve_timed_out_ = false;
        resolve_timer_.expires_after(budget(connect_deadline_ - steady::now()));
        resolve_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) {
                self->resolve_timed_out_ = true;
                self->resolver_.cancel();
            }
        });
        resolver_.async_resolve(request_.host, std::to_string(request_.port),
                                [self = shared_from_this()](beast::error_code ec,
                                                            tcp::resolver::results_type results) {
                                    self->resolve_timer_.cancel();
                                    self->on_resolved(ec, std::move(results));
                                });
    }

    void on_resolved(beast::error_code ec, tcp::resolver::results_type results) {
        if (resolve_timed_out_) return finish(delivery_errc::timed_out);
        if (ec) return finish(ec);
        conn_ = std::make_unique<connection>(owner_->context(),
                                             request_.scheme == "https" ? &owner_->tls() : nullptr);
        reused_ = false;
        conn_->lowest().expires_after(budget(connect_deadline_ - steady::now()));
        conn_->lowest().async_connect(
            results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                self->on_connected(ec);
            });
    }

    void on_connected(beast::error_code ec) {
        if (ec) return finish(ec);
        beast::error_code ignored;
        // The header and the body go out in separate writes; Nagle must not hold either back.
        conn_->lowest().socket().set_option(tcp::no_delay(true), ignored);
        if (!conn_->secure) return send();

        auto& stream = *conn_->secure;
        beast::error_code not_an_address;
        net::ip::make_address(request_.host, not_an_address);
        // SNI carries names only (RFC 6066 §3); the certificate is checked against the name or
        // the address either way.
        if (not_an_address) SSL_set_tlsext_host_name(stream.native_handle(), request_.host.c_str());
        stream.set_verify_mode(ssl::verify_peer);
        stream.set_verify_callback(ssl::host_name_verification(request_.host));
        conn_->lowest().expires_after(budget(connect_deadline_ - steady::now()));
        stream.async_handshake(ssl::stream_base::client,
                               [self = shared_from_this()](beast::error_code ec) {
                                   if (ec) return self->finish(ec);
                                   self->send();
                               });
    }

    void send() {
        if (out_of_time()) return finish(delivery_errc::timed_out);
        // Writing the body is bounded by the overall deadline only: a large by-value body on a
        // slow link takes what it takes, within the exchange's time.
        conn_->lowest().expires_after(budget(steady::duration::max()));
        auto on_sent = [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->fail_or_retry(ec);
            self->read_header();
        };
        with_stream(*conn_, [&](auto& stream) {
            if (file_request_) {
                http::async_write(stream, *file_request_, std::move(on_sent));
            } else {
                http::async_write(stream, *empty_request_, std::move(on_sent));
            }
        });
    }

    void read_header() {
        if (out_of_time()) return finish(delivery_errc::timed_out);
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
        conn_->lowest().expires_after(budget(owner_->options().response_timeout));
        with_stream(*conn_, [&](auto& stream) {
            http::async_read_header(stream, conn_->buffer, *parser_,
                                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                        self->on_header(ec);
                                    });
        });
    }

    void on_header(beast::error_code ec) {
        if (ec) {
            if (!parser_->got_some() && conn_->buffer.size() == 0) return fail_or_retry(ec);
            return finish(ec);
        }
        const auto& message = parser_->get();
        const auto status = message.result_int();
        // Interim answers (100 Continue, 102 Processing) precede the real one.
        if (status >= 100 && status < 200 && status != 101) return read_header();

        response_.status = status;
        response_.reused_connection = reused_;
        for (const auto& field : message) {
            response_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        if (status >= 200 && status < 300 && !request_.reply_file.empty()) {
            beast::error_code open_error;
            reply_.open(request_.reply_file.c_str(), beast::file_mode::write, open_error);
            if (open_error) return finish(delivery_errc::reply_file_unwritable);
            response_.reply_written = true;
        }
        if (parser_->is_done()) return complete(true);
        read_body();
    }

    void read_body() {
        if (out_of_time()) return finish(delivery_errc::timed_out);
        parser_->get().body().data = chunk_.get();
        parser_->get().body().size = read_chunk;
        conn_->lowest().expires_after(budget(owner_->options().response_timeout));
        with_stream(*conn_, [&](auto& stream) {
            http::async_read(stream, conn_->buffer, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 self->on_body(ec);
                             });
        });
    }

    void on_body(beast::error_code ec) {
        if (ec == http::error::need_buffer) ec = {};
        const auto got = read_chunk - parser_->get().body().size;
        if (got > 0) {
            if (response_.body_bytes + got > request_.reply_limit && response_.reply_written) {
                return finish(delivery_errc::reply_too_large);
            }
            response_.body_bytes += got;
            if (response_.reply_written) {
                beast::error_code write_error;
                std::size_t written = 0;
                while (!write_error && written < got) {
                    written += reply_.write(chunk_.get() + written, got - written, write_error);
                }
                if (write_error) return finish(delivery_errc::reply_file_unwritable);
            } else if (response_.body_bytes > drop_limit) {
                return complete(false);  // the status is what matters; stop reading, close
            }
        }
        if (ec) return finish(ec);
        if (parser_->is_done()) return complete(true);
        read_body();
    }

    // A reused connection that fails before any answer byte was closed by the server while idle:
    // try once more on a fresh connection (the POST is idempotent by its Idempotency-Key).
    void fail_or_retry(beast::error_code ec) {
        if (!reused_ || retried_ || cancelled_ || ec == beast::error::timeout) return finish(ec);
        retried_ = true;
        conn_->close();
        conn_.reset();
        if (auto error = prepare_request()) return finish(error);
        resolve();
    }

    void complete(bool reusable) {
        beast::error_code ignored;
        if (response_.reply_written) reply_.close(ignored);
        if (reusable && parser_->keep_alive() && !owner_->stopped()) {
            owner_->give_back(key_, std::move(conn_));
        }
        finish({});
    }

    void finish(std::error_code ec) {
        if (finished_) return;
        finished_ = true;
        if (is(ec, beast::error::timeout)) ec = delivery_errc::timed_out;
        if (ec && (cancelled_ || owner_->stopped())) ec = delivery_errc::client_stopped;
        if (conn_) {
            conn_->close();
            conn_.reset();
        }
        if (ec && response_.reply_written) {
            // A failed answer's reply (too large, cut off, unwritable) is no reply: the partial
            // file goes, or it would stay behind after every failed attempt (up to reply_limit
            // bytes each time). On this thread, as the file's writes are.
            beast::error_code ignored;
            reply_.close(ignored);
            std::error_code not_removed;
            std::filesystem::remove(request_.reply_file, not_removed);
        }
        if (registered_) owner_->remove(this);
        auto handler = std::move(handler_);
        if (ec) response_ = {};
        handler(ec, std::move(response_));
    }

    std::shared_ptr<http_client::impl> owner_;
    http_request request_;
    http_handler handler_;
    std::string key_;
    tcp::resolver resolver_;
    net::steady_timer resolve_timer_;
    std::unique_ptr<char[]> chunk_;
    std::unique_ptr<connection> conn_;
    std::optional<http::request<http::file_body>> file_request_;
    std::optional<http::request<http::empty_body>> empty_request_;
    std::optional<http::response_parser<http::buffer_body>> parser_;
    beast::file reply_;
    http_response response_;
    steady::time_point deadline_;
    steady::time_point connect_deadline_;
    bool reused_ = false;
    bool retried_ = false;
    bool resolve_timed_out_ = false;
    bool cancelled_ = false;
    bool registered_ = false;
    bool finished_ = false;
};

}  // namespace

void http_client::impl::stop() {
    stopped_ = true;
    for (auto& [key, pool] : idle_) {
        for (auto& c : pool) c->close();
    }
    idle_.clear();
    // Cancelling makes each exchange's pending operation complete with an error; the exchange
    // then removes itself, so iterate over a copy.
    const auto active = active_;
    for (auto* e : active) e->cancel();
}

http_request http_request::post_of(const protocol::notification_request& notification) {
    http_request request;
    request.scheme = notification.scheme;
    request.host = notification.host;
    request.port = notification.port;
    request.host_header = notification.host_header;
    request.target = notification.target;
    request.headers = notification.headers;
    request.body_length = notification.body_length;
    return request;
}

http_client::http_client(net::io_context& context, http_client_options options)
    : impl_(std::make_shared<impl>(context, std::move(options))) {}

http_client::~http_client() { stop(); }

void http_client::post(http_request request, http_handler handler) {
    net::post(impl_->context(), [owner = impl_, request = std::move(request),
                                 handler = std::move(handler)]() mutable {
        if (owner->stopped()) return handler(delivery_errc::client_stopped, {});
        std::make_shared<exchange>(owner, std::move(request), std::move(handler))->start();
    });
}

void http_client::stop() { impl_->stop(); }

boost::asio::io_context& http_client::context() const noexcept { return impl_->context(); }

std::size_t http_client::idle_connections() const { return impl_->idle_count(); }

std::optional<protocol::backend_transport> classify_transport(const std::error_code& error) {
    using protocol::backend_transport;
    if (error == delivery_errc::timed_out || is(error, beast::error::timeout)) {
        return backend_transport::timed_out;
    }
    if (error.category() == delivery_category()) {
        if (error == delivery_errc::reply_too_large) return backend_transport::malformed_response;
        if (error == delivery_errc::bad_url) return backend_transport::unreachable;
        return std::nullopt;  // the body file, the reply file, a stopped client: ours, not theirs
    }
    if (is(error, http::error::partial_message) || is(error, http::error::end_of_stream) ||
        is(error, ssl::error::stream_truncated) || is(error, net::error::connection_reset) ||
        is(error, net::error::eof) || is(error, net::error::broken_pipe) ||
        is(error, net::error::connection_aborted)) {
        return backend_transport::connection_dropped;
    }
    if (error.category() ==
        static_cast<std::error_code>(beast::error_code(http::error::bad_version)).category()) {
        return backend_transport::malformed_response;  // any other parse error of the response
    }
    // Refused, unreachable, names that do not resolve, TLS handshakes and certificates that fail.
    return backend_transport::unreachable;
}

}  // namespace bitsd::delivery
