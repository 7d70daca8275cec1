#include "server/http_connection.hpp"

#include "delivery/content_digest.hpp"
#include "server/reply_sender.hpp"
#include "server/reply_server.hpp"
#include "server/load_balancer_probe.hpp"
#include "server/metrics.hpp"
#include "server/response_head.hpp"
#include "server/tls/tls_channel.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace bitsd::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using protocol::bits_errc;

// Bodies stream through one buffer of this size per I/O thread: large enough for few system
// calls per fragment; no connection owns one, so a waiting connection costs no buffer.
constexpr std::size_t body_chunk_size = 256 * 1024;
// A connection reads at most this many chunks in a row before letting the other connections
// of its thread run (it continues at once after them, without waiting for readiness).
constexpr int chunks_per_turn = 16;
// A rejected request's body up to this size is read and dropped so the connection can be
// reused; a larger one is not worth the bandwidth: the connection is closed instead.
constexpr std::uint64_t drain_limit = 64 * 1024;
// Header block limit (request line and fields). A BITS request header is under 1 KiB;
// http.sys allows 16 KiB (MaxRequestBytes). 8 KiB keeps a connection that holds a header of
// the largest size open under the 16 KiB memory budget per connection; single values are
// limited to 4096 bytes by the protocol rules.
constexpr std::uint32_t header_limit = 8 * 1024;
// A header buffer grown past this is given back once its request is read.
constexpr std::size_t header_buffer_keep = 2 * 1024;
// A TLS body is read one record at a time: a record carries at most 16 KiB of data.
constexpr std::size_t tls_chunk_size = 16 * 1024;
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

// The body buffer of the calling I/O thread. new char[] leaves it uninitialised (no page is
// touched before a read fills it); it lives as long as the thread.
char* thread_chunk() {
    thread_local const std::unique_ptr<char[]> chunk(new char[body_chunk_size]);
    return chunk.get();
}

bool would_block(const beast::error_code& ec) {
    return ec == net::error::would_block || ec == net::error::try_again;
}

}  // namespace

connection_limits limits_of(const config::settings& s) {
    connection_limits limits;
    limits.read_timeout = std::chrono::seconds(s.read_timeout_s);
    limits.idle_timeout = std::chrono::seconds(s.idle_timeout_s);
    limits.min_body_rate = s.min_body_rate_bytes_per_s;
    limits.busy_timeout = std::chrono::seconds(s.busy_timeout_s);
    return limits;
}

http_connection::http_connection(socket_type&& socket, const connection_shared& shared,
                                 connection_ticket ticket, std::shared_ptr<boost::asio::ssl::context> tls)
    : stream_(std::move(socket)),
      timer_(stream_.get_executor()),
      buffer_(header_limit),
      live_(shared.services),
      service_(shared.services.current()),
      blocking_(shared.blocking),
      auth_pool_(shared.auth),
      auth_failures_(shared.auth_failures),
      registry_(shared.registry),
      limits_(limits_of(service_->settings())),
      ticket_(std::move(ticket)) {
    beast::error_code ignored;
    peer_ = stream_.socket().remote_endpoint(ignored);
    tls_context_ = std::move(tls);  // the TLS stream is made when the client's first bytes come
    metrics::global().connection_opened();
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("connection from {} opened", format_peer(peer_));
}

http_connection::~http_connection() {
    release_session();
    if (registered_) registry_.remove(*registered_);
    metrics::global().connection_closed();
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("connection from {} closed", format_peer(peer_));
}

void http_connection::log_finished(const char* lost) {
    const auto* request = parser_ && parser_->is_header_done() ? &parser_->get() : nullptr;
    log_.finished(peer_, request, packet_ ? std::optional(packet_->kind) : std::nullopt, body_read_, lost);
}

void http_connection::refresh_service() {
    // A new request sees the configuration in force (a SIGHUP may have replaced it); the one
    // before finished under its own.
    service_ = live_.current();
    limits_ = limits_of(service_->settings());
}

void http_connection::run() {
    registered_ = registry_.add(weak_from_this());
    // Reads of bodies are attempted directly and return would_block when nothing is there.
    beast::error_code ignored;
    stream_.socket().non_blocking(true, ignored);
    // Start on the connection's own io_context (accepting ran on the listener's).
    if (tls_context_) return net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_handshake(); });
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read_header(); });
}

// ---- TLS ----------------------------------------------------------------------------------

void http_connection::do_handshake() {
    // As waiting for a first request: a drain closes it, and the handshake gets read_timeout_s.
    phase_ = phase::header;
    refresh_service();
    if (registry_.draining()) return close();
    // The TLS state (OpenSSL's, tens of KiB while a handshake runs) is made once the
    // ClientHello starts to arrive: a client that connects and says nothing costs what a plain
    // connection costs. Until then the timer bounds the wait.
    arm_timer(clock::now() + limits_.read_timeout);
    stream_.socket().async_wait(net::socket_base::wait_read,
                                [self = shared_from_this(), g = ++wait_generation_](beast::error_code ec) {
                                    if (g == self->wait_generation_) self->on_client_hello(ec);
                                });
}

void http_connection::on_client_hello(beast::error_code ec) {
    if (phase_ == phase::closed) return;
    disarm_timer();
    if (ec) {
        metrics::global().tls_handshake_failed();
        return close();
    }
    tls_ = std::make_unique<tls_channel>(stream_, std::move(tls_context_));
    stream_.expires_after(limits_.read_timeout);
    tls_->async_handshake([self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
}

void http_connection::on_handshake(beast::error_code ec) {
    if (phase_ == phase::closed) return;
    if (ec) {
        // Old protocol versions, plain HTTP on the TLS port, scanners: counted, and logged at
        // debug only (a flood of them must not flood the log).
        metrics::global().tls_handshake_failed();
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("TLS handshake with {} failed: {}", format_peer(peer_), ec.message());
        }
        return close();
    }
    do_read_header();
}

void http_connection::async_write_buffer(net::const_buffer buffer, write_step next) {
    if (tls_) {
        return tls_->async_write(buffer, [self = shared_from_this(), next](beast::error_code ec, std::size_t n) {
            ((*self).*next)(ec, n);
        });
    }
    net::async_write(stream_, buffer, beast::bind_front_handler(next, shared_from_this()));
}

void http_connection::do_tls_body_read() {
    if (!timer_armed_) arm_timer(body_deadline());
    if (!tls_chunk_) tls_chunk_.reset(new char[tls_chunk_size]);
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, tls_chunk_size));
    tls_->async_read_some(net::buffer(tls_chunk_.get(), want),
                          [self = shared_from_this(), g = ++wait_generation_](beast::error_code ec, std::size_t n) {
                              if (g == self->wait_generation_) self->on_tls_body_read(ec, n);
                          });
}

void http_connection::on_tls_body_read(beast::error_code ec, std::size_t bytes) {
    if (phase_ != phase::body) return;
    if (bytes > 0) {
        consume_body(tls_chunk_.get(), bytes);
        body_last_read_ = clock::now();
    }
    if (body_timed_out_) return on_body_lost("body too slow");
    if (ec) return on_body_lost(ec.message().c_str());
    if (body_left_ > 0) return do_tls_body_read();
    disarm_timer();
    tls_chunk_.reset();  // an idle keep-alive connection holds no body buffer
    on_body_complete();
}

void http_connection::reset_request() {
    packet_.reset();
    location_ = {};
    echo_session_id_.reset();
    transfer_.reset();
    body_left_ = skip_left_ = body_read_ = 0;
    body_timed_out_ = false;
    write_error_.clear();
    pending_response_.reset();
    expects_continue_ = false;
    unread_input_ = false;
    reply_head_.reset();
}

void http_connection::trim_buffer() {
    // Give back what a large header needed; an idle connection keeps a small buffer.
    if (buffer_.size() == 0 && buffer_.capacity() > header_buffer_keep) buffer_.shrink_to_fit();
}

// ---- header -------------------------------------------------------------------------------

void http_connection::do_read_header() {
    phase_ = phase::header;
    reset_request();
    parser_.emplace();
    parser_->header_limit(header_limit);
    // Beast refuses bodies over 1 MB at header time by default; the body never passes through
    // the parser here, and the engine answers 413 above max_fragment_size itself.
    parser_->body_limit(boost::none);
    trim_buffer();
    refresh_service();
    // Draining (SIGTERM): no next request on this connection, unless it already arrived.
    if (registry_.draining() && buffer_.size() == 0) return close();
    // idle_timeout until the request's first byte, then read_timeout for the whole header: a
    // client trickling a header cannot stretch it byte by byte.
    header_started_ = buffer_.size() > 0;
    if (header_started_) log_.started();
    stream_.expires_after(header_started_ ? limits_.read_timeout : limits_.idle_timeout);
    if (header_started_) return on_read_header({}, 0);  // a pipelined request: parse it first
    do_read_header_some();
}

void http_connection::do_read_header_some() {
    const std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) return on_header_error(http::error::header_limit);
    const std::size_t want = std::min<std::size_t>(
        room, std::max<std::size_t>(512, buffer_.capacity() - buffer_.size()));
    if (tls_) {
        return tls_->async_read_some(buffer_.prepare(want), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            self->on_read_header(ec, n);
        });
    }
    stream_.async_read_some(buffer_.prepare(want),
                            beast::bind_front_handler(&http_connection::on_read_header, shared_from_this()));
}

void http_connection::on_read_header(beast::error_code ec, std::size_t bytes) {
    buffer_.commit(bytes);
    if (ec) {
        if (ec == net::error::eof || ec == net::error::connection_reset ||
            ec == beast::error::timeout || ec == net::error::operation_aborted) {
            return close();
        }
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("reading a request header from {}: {}", format_peer(peer_), ec.message());
        }
        return close();
    }
    const bool first_bytes = !header_started_ && buffer_.size() > 0;
    header_started_ = header_started_ || first_bytes;
    if (first_bytes) log_.started();
    beast::error_code parse_ec;
    const std::size_t used = parser_->put(buffer_.data(), parse_ec);
    buffer_.consume(used);
    if (parse_ec == http::error::need_more) {
        // The header goes on past this read: from its first byte, read_timeout for all of it.
        if (first_bytes) stream_.expires_after(limits_.read_timeout);
        return do_read_header_some();
    }
    if (parse_ec) return on_header_error(parse_ec);
    if (!parser_->is_header_done()) return do_read_header_some();
    handle_request();
}

void http_connection::on_header_error(beast::error_code ec) {
    // Not HTTP we can read: answer once, then close (the stream position is unknown).
    if (spdlog::should_log(spdlog::level::debug)) {
        spdlog::debug("bad request header from {}: {}", format_peer(peer_), ec.message());
    }
    keep_alive_ = false;
    close_after_write_ = true;
    unread_input_ = true;
    const auto error = ec == http::error::header_limit ? bits_errc::header_too_long
                                                        : bits_errc::malformed_request;
    do_write(service_->reject({error, {}}, std::nullopt));
}

// ---- request ------------------------------------------------------------------------------

void http_connection::handle_request() {
    refresh_service();
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const protocol::request_view view = view_of(req);
    if (spdlog::should_log(spdlog::level::trace)) trace_request(peer_, req);
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
    if (auto probe = load_balancer_probe(view.method, view.target)) return finish_request(std::move(*probe));

    if (service_->replies() && (view.method == "GET" || view.method == "HEAD") &&
        reply_server::is_reply_target(view.target)) {
        // An upload-reply belongs to the prefix an upload to its path would: it passes that
        // prefix's authentication like any request. Outside every prefix: the missing answer.
        reply_head_ = view.method == "HEAD";
        const auto routed = protocol::route("BITS_POST", view.target, service_->url_prefixes());
        if (routed.error == bits_errc::upload_url_not_found) return serve_reply(*reply_head_, {});
        location_.prefix_index = routed.location.prefix_index;
        return authenticate();
    }

    auto routed = protocol::route(view.method, view.target, service_->url_prefixes());
    if (routed.error) {
        // A client's mistake, not the server's: debug, never once per request at error level.
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{} {} from {} refused: {}", view.method, view.target, format_peer(peer_),
                          routed.error.message());
        }
        return finish_request(service_->reject({routed.error, {}}, echo_session_id_));
    }
    location_ = std::move(routed.location);
    authenticate();
}

// ---- authentication -----------------------------------------------------------------------

void http_connection::authenticate() {
    // Who is asking: the prefix's authentication, before anything else (Ping included: NTLM-
    // style clients authenticate on it). Without auth, the client's address.
    const auto* auth = service_->authenticator_for(location_.prefix_index);
    if (!auth) return on_principal(ticket_.client());
    const auto& req = parser_->get();
    if (!tls_ && auth->needs_tls()) {
        // Basic without allow_basic_without_tls, on a plain listener: no challenge (it would
        // ask for a password in clear text), a refusal, fatal for the Windows job.
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{} {} from {} refused: Basic authentication needs a TLS listener",
                          std::string(req.method_string()), std::string(req.target()), format_peer(peer_));
        }
        return finish_request(service_->reject({bits_errc::access_denied, {}}, echo_session_id_));
    }
    // Two Authorization headers, or two user headers (a proxy that appends its own instead of
    // replacing the client's): which one counts would be a guess, so neither does.
    const auto& user_header = auth->user_header_name();
    if (req.count(http::field::authorization) > 1 ||
        (!user_header.empty() && req.count(beast::string_view(user_header.data(), user_header.size())) > 1)) {
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{} {} from {} refused: a repeated authentication header", std::string(req.method_string()),
                          std::string(req.target()), format_peer(peer_));
        }
        return finish_request(service_->reject({bits_errc::duplicate_header, {}}, echo_session_id_));
    }
    if (!auth->is_basic()) {
        // trusted-header: a lookup, answered here.
        return on_verdict(auth->check(field(req, "Authorization"),
                                      user_header.empty() ? std::nullopt : field(req, user_header),
                                      peer_.address()));
    }
    auto started = auth->start_basic(field(req, "Authorization"), clock::now());
    if (started.verdict) return on_verdict(std::move(*started.verdict));
    // A hash is needed: only within the client's allowance of failed checks.
    const auto per_minute = service_->settings().limits.auth_failures_per_minute_per_client;
    if (const auto wait = auth_failures_.before_check(ticket_.client(), per_minute, clock::now())) {
        metrics::global().auth_failed(auth_failure_label::rate_limited);
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{} {} from {} refused: too many failed password checks", std::string(req.method_string()),
                          std::string(req.target()), format_peer(peer_));
        }
        auto refusal = service_->reject({bits_errc::too_many_auth_failures, {}}, echo_session_id_);
        for (auto& [name, value] : refusal.headers) {
            if (name == "Retry-After") value = std::to_string(wait->count());
        }
        return finish_request(std::move(refusal));
    }
    do_verify(std::move(*started.attempt));
}

void http_connection::do_verify(basic_attempt attempt) {
    // The hash runs on the auth pool; the verdict comes back to this io_context. A wait beyond
    // busy_timeout_s (a queue of checks) is answered busy, and the check is skipped.
    phase_ = phase::auth;
    check_ = std::make_shared<running_check>();
    arm_timer(clock::now() + limits_.busy_timeout);
    const auto* auth = service_->authenticator_for(location_.prefix_index);
    net::post(auth_pool_.executor(), [self = shared_from_this(), service = service_, auth, check = check_,
                                      attempt = std::move(attempt)]() mutable {
        auth_verdict verdict;
        // Skipped (the connection went meanwhile): not a failure, and its token goes back.
        const bool hashed = !check->abandoned.load();
        if (hashed) verdict = auth->verify(attempt, clock::now());
        // Back on the connection's thread, where it is destroyed if this was its last owner:
        // every reference moves into that handler, none stays behind on the pool's thread.
        const auto executor = self->stream_.get_executor();
        net::post(executor, [self = std::move(self), service = std::move(service), check = std::move(check),
                             verdict = std::move(verdict), hashed]() mutable {
            self->on_verified(check, std::move(verdict), hashed);
        });
    });
}

void http_connection::on_verified(const std::shared_ptr<running_check>& check, auth_verdict verdict, bool hashed) {
    // The check took a token of the client's failure budget: a success, or a check whose hash
    // never ran, gives it back, whether or not its connection is still waiting for it.
    if (!hashed || verdict.result == auth_verdict::kind::allowed) {
        auth_failures_.check_succeeded(ticket_.client(),
                                       service_->settings().limits.auth_failures_per_minute_per_client, clock::now());
    }
    if (check != check_ || phase_ != phase::auth) return;  // closed, cut or answered busy meanwhile
    check_.reset();
    disarm_timer();
    on_verdict(std::move(verdict));
}

void http_connection::abandon_check() {
    if (!check_) return;
    check_->abandoned = true;
    check_.reset();
}

void http_connection::on_verdict(auth_verdict verdict) {
    if (verdict.result != auth_verdict::kind::allowed) {
        const bool challenge = verdict.result == auth_verdict::kind::challenge;
        auto refusal = service_->reject({challenge ? bits_errc::unauthorized : bits_errc::access_denied, {}},
                                       echo_session_id_);
        if (challenge) refusal.headers.emplace_back("WWW-Authenticate",
                                                    service_->authenticator_for(location_.prefix_index)->challenge());
        return finish_request(std::move(refusal));  // a body is drained or the connection closed
    }
    on_principal(std::move(verdict.principal));
}

void http_connection::on_principal(std::string principal) {
    if (reply_head_) return serve_reply(*reply_head_, std::move(principal));
    const protocol::request_view view = view_of(parser_->get());
    auto parsed = service_->engine().parse(view);
    if (!parsed) {
        if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{} {} from {} refused: {}", view.method, view.target, format_peer(peer_),
                          parsed.failure.error.message());
        }
        return finish_request(service_->reject(parsed.failure, echo_session_id_));
    }
    packet_ = std::move(parsed.value);
    packet_->principal = std::move(principal);
    echo_session_id_ = packet_->sent_session_id;

    switch (packet_->kind) {
    case protocol::packet_kind::ping:
        return finish_request(service_->ping(*packet_));  // no disk: answered right here
    case protocol::packet_kind::create_session:
        if (const auto refused = service_->admission().allow_create(ticket_.client(), packet_->principal,
                                                                   location_.prefix_index, clock::now())) {
            return finish_request(service_->reject({refused, {}}, echo_session_id_));
        }
        return run_blocking(
            phase::blocking, blocking_.executor(),
            [service = service_, packet = *packet_, where = location_] {
                return service->create_session(packet, where);
            },
            [this](protocol::response response) { finish_request(std::move(response)); });
    default:
        break;
    }
    if (!packet_->session_id_valid) {
        // Never a key for storage or the lock table; the engine answers "not found".
        return on_session_locked();
    }
    wait_for_lock();
}

// ---- session lock -------------------------------------------------------------------------

void http_connection::wait_for_lock() {
    // One request at a time per session: wait (without blocking a thread) for the lock, then
    // continue on this connection's io_context.
    phase_ = phase::lock;
    locked_session_ = *packet_->session_id;
    lock_ticket_ = service_->locks().lock(locked_session_, [self = shared_from_this()] {
        net::post(self->stream_.get_executor(), [self] { self->on_session_locked(); });
    });
    if (lock_ticket_ == 0 || phase_ != phase::lock) return;  // granted at once
    // Queued behind another request. Keep a deadline, and watch the socket: a client that
    // leaves must not keep its place (nor its file descriptor) in the queue.
    arm_timer(clock::now() + limits_.busy_timeout);
    stream_.socket().async_wait(net::socket_base::wait_read,
                                [self = shared_from_this(), g = ++wait_generation_](beast::error_code ec) {
                                    if (g == self->wait_generation_) self->on_lock_watch(ec);
                                });
}

void http_connection::on_lock_watch(beast::error_code ec) {
    if (phase_ != phase::lock || ec == net::error::operation_aborted) return;
    if (!ec) {
        // A peek through Asio (the socket is non-blocking since run()): the same on Windows.
        char byte;
        beast::error_code peek_ec;
        const auto n = stream_.socket().receive(net::buffer(&byte, 1), net::socket_base::message_peek, peek_ec);
        if (!peek_ec && n > 0) return;  // the body (or a next request) is coming: the deadline decides
        if (peek_ec == net::error::would_block || peek_ec == net::error::try_again ||
            peek_ec == net::error::interrupted) {
            stream_.socket().async_wait(net::socket_base::wait_read,
                                        [self = shared_from_this(), g = ++wait_generation_](beast::error_code e) {
                                            if (g == self->wait_generation_) self->on_lock_watch(e);
                                        });
            return;
        }
    }
    // End of stream or a socket error: the client left. Leave the queue; if the lock was
    // granted meanwhile, on_session_locked is on its way and finds the socket closed.
    if (service_->locks().withdraw(locked_session_, lock_ticket_)) {
        locked_session_.clear();
        disarm_timer();
        close();
    }
}

void http_connection::on_session_locked() {
    lock_held_ = !locked_session_.empty();
    const bool was_queued = lock_ticket_ != 0;
    lock_ticket_ = 0;
    if (phase_ == phase::lock && was_queued) {
        ++wait_generation_;
        beast::error_code ignored;
        stream_.socket().cancel(ignored);  // the watch for a departing client
        disarm_timer();
    }
    if (phase_ == phase::closed) return release_session();
    switch (packet_->kind) {
    case protocol::packet_kind::close_session:
        // A commit may take minutes (a copy across file systems): it runs detached from the
        // request and keeps the lock until it ends; after busy_timeout the client is told to
        // come back (503), and finds the commit running (busy) or done (200).
        commit_ = std::make_shared<running_commit>();
        arm_timer(clock::now() + limits_.busy_timeout);
        return run_blocking(
            phase::commit, blocking_.commit_executor(),
            [service = service_, packet = *packet_, where = location_] {
                return service->close_session(packet, where);
            },
            [this, commit = commit_](protocol::response response) {
                on_close_done(commit, std::move(response));
            });
    case protocol::packet_kind::cancel_session:
        return run_blocking(
            phase::blocking, blocking_.executor(),
            [service = service_, packet = *packet_, where = location_] {
                return service->cancel_session(packet, where);
            },
            [this](protocol::response response) { finish_request(std::move(response)); });
    default:
        break;
    }
    run_blocking(
        phase::blocking, blocking_.executor(),
        [service = service_, packet = *packet_, where = location_] {
            return service->begin_fragment(packet, where);
        },
        [this](protocol::outcome<fragment_transfer> begun) {
            if (!begun) return finish_request(service_->reject(begun.failure, echo_session_id_));
            if (!begun.value->appender && body_left_ > 0) return read_duplicate_body();
            start_fragment(std::move(*begun.value));
        });
}

// ---- blocking work ------------------------------------------------------------------------

template <typename Work, typename Done>
void http_connection::run_blocking(phase during, boost::asio::thread_pool::executor_type pool,
                                   Work work, Done done) {
    // The work owns copies of what it reads (the request's packet and location): a detached
    // commit runs on while this connection answers busy and reads its next request.
    phase_ = during;
    net::post(pool, [self = shared_from_this(), work = std::move(work),
                                     done = std::move(done)]() mutable {
        auto result = work();
        // As in do_verify: the connection's last reference may only drop on its own thread.
        const auto executor = self->stream_.get_executor();
        net::post(executor, [self = std::move(self), result = std::move(result), done = std::move(done)]() mutable {
            done(std::move(result));
        });
    });
}

void http_connection::on_close_done(const std::shared_ptr<running_commit>& commit,
                                    protocol::response response) {
    if (commit->detached) {
        // The client was answered busy long ago and this connection has moved on: only the
        // session's lock, kept while the commit ran, is left to release.
        if (!commit->lock.empty()) service_->locks().unlock(commit->lock);
        return;
    }
    commit_.reset();
    disarm_timer();
    finish_request(std::move(response));
}

// ---- body ---------------------------------------------------------------------------------

void http_connection::start_fragment(fragment_transfer transfer) {
    transfer_ = std::move(transfer);
    skip_left_ = transfer_->plan.skip;
    if (!expects_continue_ || body_left_ == 0) return start_body(after_body::finish_fragment);
    send_continue(after_body::finish_fragment);
}

void http_connection::send_continue(after_body next) {
    // The client waits for this before it sends the body (curl does for large bodies).
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    after_body_ = next;
    expects_continue_ = false;
    phase_ = phase::write;
    stream_.expires_after(limits_.read_timeout);
    async_write_buffer(net::buffer(continue_line.data(), continue_line.size()), &http_connection::on_continue_sent);
}

void http_connection::on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) return on_body_lost("100 Continue not sent");
    start_body(after_body_);
}

void http_connection::read_duplicate_body() {
    // Nothing of this body is to be stored (every byte of it is already): it is read without
    // the session's lock, which the outbox and the session's other requests may need meanwhile
    // (the client decides how slowly a body comes). Once it is in, the lock is taken again and
    // the fragment runs as one without a body left to read: its plan and Ack are made from
    // what is stored then.
    release_session();
    skip_left_ = body_left_;
    if (!expects_continue_) return start_body(after_body::relock);
    send_continue(after_body::relock);
}

void http_connection::start_body(after_body next) {
    after_body_ = next;
    phase_ = phase::body;
    body_started_ = body_last_read_ = clock::now();
    body_read_ = 0;
    body_timed_out_ = false;
    // Body bytes that arrived together with the header are already in buffer_.
    const std::size_t buffered = static_cast<std::size_t>(
        std::min<std::uint64_t>(buffer_.size(), body_left_));
    if (buffered > 0) {
        const auto data = buffer_.data();
        consume_body(static_cast<const char*>(data.data()), buffered);
        buffer_.consume(buffered);
    }
    trim_buffer();
    if (body_left_ == 0) return on_body_complete();
    arm_timer(body_deadline());
    if (tls_) return do_tls_body_read();
    on_body_readable({});  // try at once: the body usually follows its header
}

http_connection::clock::time_point http_connection::body_deadline() const {
    // Two rules, as Apache's Timeout and mod_reqtimeout's MinRate together: no read may wait
    // longer than read_timeout (a stalled client is let go), and the whole body must be in by
    // read_timeout plus one second per min_body_rate bytes received (a trickling client is
    // let go too, however regularly it sends).
    const auto stalled = body_last_read_ + limits_.read_timeout;
    if (limits_.min_body_rate == 0) return stalled;
    const auto slow = body_started_ + limits_.read_timeout +
                      std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
                          static_cast<double>(body_read_) / static_cast<double>(limits_.min_body_rate)));
    return std::min(stalled, slow);
}

void http_connection::consume_body(const char* data, std::size_t size) {
    metrics::global().add_bytes_received(size);
    body_left_ -= size;
    body_read_ += size;
    const std::size_t skipped = static_cast<std::size_t>(std::min<std::uint64_t>(skip_left_, size));
    skip_left_ -= skipped;
    data += skipped;
    size -= skipped;
    if (size == 0 || !transfer_ || !transfer_->appender || write_error_) return;
    // Never more than the plan says: the fragment's range ends where its body ends. The write
    // goes to the page cache and stays on this thread: it costs a copy, not a disk wait (the
    // flush, which does wait, runs on the blocking pool at the end of the fragment).
    if (const auto ec = transfer_->appender->write(data, size)) {
        write_error_ = ec;
    } else if (transfer_->digest) {
        transfer_->digest->update(data, size);  // the digest sees exactly the bytes stored
    }
}

void http_connection::do_wait_readable() {
    if (!timer_armed_) arm_timer(body_deadline());
    stream_.socket().async_wait(net::socket_base::wait_read,
                                [self = shared_from_this(), g = ++wait_generation_](beast::error_code ec) {
                                    if (g == self->wait_generation_) self->on_body_readable(ec);
                                });
}

void http_connection::on_body_readable(beast::error_code ec) {
    if (phase_ != phase::body) return;
    if (body_timed_out_) return on_body_lost("body too slow");
    if (ec) return on_body_lost(ec.message().c_str());
    // Non-blocking reads until the socket is empty (the reactor is edge-triggered: readiness
    // that is not read now is not reported again), the body is complete, or this turn ends.
    char* const chunk = thread_chunk();
    for (int turn = 0; body_left_ > 0; ++turn) {
        if (turn == chunks_per_turn) {
            net::post(stream_.get_executor(), [self = shared_from_this(), g = ++wait_generation_] {
                if (g == self->wait_generation_) self->on_body_readable({});
            });
            return;
        }
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, body_chunk_size));
        beast::error_code read_ec;
        const std::size_t n = stream_.socket().read_some(net::buffer(chunk, want), read_ec);
        if (would_block(read_ec)) return do_wait_readable();
        if (n > 0) {
            consume_body(chunk, n);
            body_last_read_ = clock::now();
        }
        if (read_ec) return on_body_lost(read_ec.message().c_str());
    }
    disarm_timer();
    on_body_complete();
}

void http_connection::on_body_lost(const char* why) {
    // The client went away mid-body (or was too slow). What was written stays: the stored
    // length is the truth, and the client resumes from there.
    spdlog::debug("session {}: body not received from {}: {}", echo_session_id_.value_or("-"),
                  format_peer(peer_), why);
    log_finished(why);
    disarm_timer();
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    if (transfer_ && transfer_->appender) {
        // Flush what arrived (a disk wait), then let the session go.
        return run_blocking(
            phase::blocking, blocking_.executor(),
            [transfer = std::move(transfer_)]() mutable {
                transfer->appender->finish();
                transfer.reset();  // the file is closed before the session is released
                return 0;
            },
            [this](int) { close(); });
    }
    close();
}

void http_connection::on_body_complete() {
    if (after_body_ == after_body::relock) return wait_for_lock();
    if (after_body_ == after_body::send_response) {
        auto response = std::move(*pending_response_);
        pending_response_.reset();
        return do_write(std::move(response));
    }
    const auto& req = parser_->get();
    request_origin origin;
    if (tls_) origin.scheme = "https";
    if (const auto host = field(req, "Host")) origin.host = std::string(*host);
    beast::error_code local_ec;
    const auto local = stream_.socket().local_endpoint(local_ec);
    if (!local_ec) origin.local = url_authority(local);
    origin.target = std::string(req.target());
    run_blocking(
        phase::blocking, blocking_.executor(),
        [service = service_, packet = *packet_, transfer = std::move(*transfer_),
         write_error = write_error_, where = location_, origin = std::move(origin)]() mutable {
            // The flush of a durable fragment: a disk wait, off the I/O thread.
            return service->finish_fragment(packet, transfer, write_error, where, origin);
        },
        [this](fragment_result result) { on_fragment_finished(std::move(result)); });
    transfer_.reset();
}

void http_connection::on_fragment_finished(fragment_result result) {
    if (!result.delivery) return finish_request(std::move(result.response));
    // A sync delivery: the Ack waits for the back-end, on this io_context, without blocking it.
    // The session's lock goes with the delivery, so that a client that leaves meanwhile cannot
    // free it while the attempt runs; the coordinator releases it before answering.
    std::string lock;
    if (lock_held_) {
        lock = std::move(locked_session_);
        locked_session_.clear();
        lock_held_ = false;
    }
    phase_ = phase::blocking;
    service_->delivery()->run_sync(
        static_cast<net::io_context&>(stream_.get_executor().context()), blocking_.executor(),
        std::move(*result.delivery), std::move(lock),
        [self = shared_from_this()](protocol::response response) {
            if (self->phase_ == phase::closed) return;
            self->finish_request(std::move(response));
        });
}

void http_connection::serve_reply(bool head, std::string principal) {
    const auto& req = parser_->get();
    reply_request request;
    request.head = head;
    // Served to the session's owner under its own prefix only; "" (no prefix) finds nothing.
    request.principal = std::move(principal);
    if (!request.principal.empty()) request.url_prefix = service_->url_prefixes()[location_.prefix_index];
    request.target = std::string(req.target());
    if (const auto range = field(req, "Range")) request.range = std::string(*range);
    if (const auto if_range = field(req, "If-Range")) request.if_range = std::string(*if_range);
    request.version = version_;
    if (body_left_ > 0) {
        // A GET with a body is not read: answer, then close.
        keep_alive_ = false;
        unread_input_ = true;
    }
    request.keep_alive = keep_alive_;
    run_blocking(
        phase::blocking, blocking_.executor(),
        [replies = service_->replies(), request = std::move(request)] { return replies->prepare(request); },
        [this](reply_plan plan) {
            phase_ = phase::write;
            if (plan.close_after) close_after_write_ = true;
            auto writer = [self = shared_from_this()](net::const_buffer buffer, reply_write_done done) {
                self->stream_.expires_after(self->limits_.read_timeout);
                const auto on_written = [done = std::move(done)](beast::error_code ec, std::size_t) { done(ec); };
                if (self->tls_) return self->tls_->async_write(buffer, on_written);
                net::async_write(self->stream_, buffer, on_written);
            };
            send_reply(std::move(writer), std::move(plan), [self = shared_from_this()](bool ok) {
                if (!ok) return self->close();
                self->on_write({}, 0);
            });
        });
}

// ---- response -----------------------------------------------------------------------------

void http_connection::finish_request(protocol::response response) {
    // The answer is known. Release the session before writing: the next request of this
    // session may be waiting on another connection.
    release_session();
    if (packet_) {
        service_->admission().observe(ticket_.client(), packet_->principal, location_.prefix_index, *packet_,
                                     response, clock::now());
    }
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
    phase_ = phase::write;
    if (registry_.draining()) keep_alive_ = false;  // the client learns it: Connection: close
    if (response.close_connection) {
        keep_alive_ = false;
        close_after_write_ = true;
    }
    log_.answered(response);
    format_response_head(head_, version_, response, keep_alive_);
    stream_.expires_after(limits_.read_timeout);
    async_write_buffer(net::buffer(head_), &http_connection::on_write);
}

void http_connection::on_write(beast::error_code ec, std::size_t) {
    log_finished(ec ? "answer not sent" : nullptr);
    if (ec) return close();
    if (!keep_alive_ || close_after_write_) {
        if (body_left_ > 0 || unread_input_) return do_linger();
        return close();
    }
    do_read_header();
}

void http_connection::do_linger() {
    phase_ = phase::linger;
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    arm_timer(clock::now() + linger_timeout);
    on_linger_readable({});
}

void http_connection::on_linger_readable(beast::error_code ec) {
    if (phase_ != phase::linger) return;
    if (ec) return close();
    char* const chunk = thread_chunk();
    for (int turn = 0; turn < chunks_per_turn; ++turn) {
        beast::error_code read_ec;
        stream_.socket().read_some(net::buffer(chunk, body_chunk_size), read_ec);
        if (would_block(read_ec)) {
            stream_.socket().async_wait(net::socket_base::wait_read,
                                        [self = shared_from_this(), g = ++wait_generation_](beast::error_code e) {
                                            if (g == self->wait_generation_) self->on_linger_readable(e);
                                        });
            return;
        }
        if (read_ec) return close();
    }
    net::post(stream_.get_executor(), [self = shared_from_this(), g = ++wait_generation_] {
        if (g == self->wait_generation_) self->on_linger_readable({});
    });
}

// ---- deadlines ----------------------------------------------------------------------------

void http_connection::arm_timer(clock::time_point at) {
    timer_armed_ = true;
    timer_.expires_at(at);  // a pending wait completes as aborted (a stale generation)
    timer_.async_wait([self = shared_from_this(), g = ++timer_generation_](beast::error_code ec) {
        if (ec || g != self->timer_generation_) return;
        self->timer_armed_ = false;
        self->on_timer();
    });
}

void http_connection::disarm_timer() {
    if (!timer_armed_) return;
    timer_armed_ = false;
    ++timer_generation_;
    timer_.cancel();
}

void http_connection::on_timer() {
    beast::error_code ignored;
    switch (phase_) {
    case phase::lock:
        // Waited busy_timeout for the session: give up the place in the queue and say busy.
        if (!service_->locks().withdraw(locked_session_, lock_ticket_)) return;  // being granted
        locked_session_.clear();
        lock_ticket_ = 0;
        ++wait_generation_;
        stream_.socket().cancel(ignored);
        return finish_request(service_->reject({bits_errc::session_busy, {}}, echo_session_id_));
    case phase::commit:
        if (!commit_) return;
        // The commit goes on and keeps the session's lock; the client comes back later.
        commit_->detached = true;
        if (lock_held_) commit_->lock = std::move(locked_session_);
        locked_session_.clear();
        lock_held_ = false;
        commit_.reset();
        spdlog::info("session {}: commit still running after {} s: answered busy",
                     echo_session_id_.value_or("-"), limits_.busy_timeout.count());
        return finish_request(service_->reject({bits_errc::session_busy, {}}, echo_session_id_));
    case phase::body:
        // The deadline grew with the bytes received since it was armed: look again then.
        if (clock::now() < body_deadline()) return arm_timer(body_deadline());
        body_timed_out_ = true;
        stream_.socket().cancel(ignored);  // the readiness wait completes, sees the timeout
        return;
    case phase::auth:
        // The check waited behind others for busy_timeout: skipped, and the client told busy.
        abandon_check();
        return finish_request(service_->reject({bits_errc::session_busy, {}}, echo_session_id_));
    case phase::linger:
        return close();
    case phase::header:
        // A TLS client that connected and sent no ClientHello within read_timeout_s.
        if (tls_context_ && !tls_) {
            metrics::global().tls_handshake_failed();
            return close();
        }
        return;
    default:
        return;
    }
}

void http_connection::close() {
    phase_ = phase::closed;
    abandon_check();
    disarm_timer();
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
    service_->locks().unlock(id);
}

}  // namespace bitsd::server
