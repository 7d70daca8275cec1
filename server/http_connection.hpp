#pragma once
// One client connection: reads a request header, asks upload_service what to do, streams a
// fragment's body into storage in bounded chunks, writes the Ack, and loops while the client
// keeps the connection alive. All of it runs on the connection's io_context (one thread); disk
// work runs on the blocking pool and its result comes back here. Every async step is a do_x /
// on_x pair with an error_code, and every wait has a deadline: idle_timeout until a request's
// first byte, read_timeout for the whole header, read_timeout + bytes / min_body_rate for a
// body, busy_timeout for a session lock or a commit.
//
// Memory: a waiting connection owns no body buffer. Bodies are read when the socket is
// readable, with non-blocking reads into one buffer per thread, consumed before the handler
// returns (so no two reads ever share it).

#include "server/auth_failure_limiter.hpp"
#include "server/auth_pool.hpp"
#include "server/blocking_pool.hpp"
#include "server/connection_registry.hpp"
#include "server/live_service.hpp"
#include "server/request_log.hpp"
#include "server/upload_service.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace bitsd::server {

class tls_channel;  // server/tls/tls_channel.hpp: the TLS side of a connection on a TLS listener

struct connection_limits {
    std::chrono::seconds idle_timeout{120};  // until the first byte of a request
    std::chrono::seconds read_timeout{120};  // the whole header; a body's base deadline
    std::uint64_t min_body_rate = 256;       // bytes/s a body must keep (0 = no rate rule)
    std::chrono::seconds busy_timeout{60};   // waiting for a session or its commit, then 503
};

// The limits a configuration sets (they follow a reload from the next request on).
connection_limits limits_of(const config::settings& settings);

// What all connections of the daemon share.
struct connection_shared {
    live_service& services;        // the upload_service of the configuration in force
    blocking_pool& blocking;
    connection_registry& registry;  // for the drain on SIGTERM
    auth_pool& auth;                // password checks (Basic), off the I/O threads
    auth_failure_limiter& auth_failures;  // limits.auth_failures_per_minute_per_client
};

class http_connection : public std::enable_shared_from_this<http_connection> {
public:
    // A connection belongs to one io_context run by one thread (io_context_pool): its handlers
    // never run concurrently, without a strand and without a type-erased executor.
    using executor_type = boost::asio::io_context::executor_type;
    using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
    using stream_type =
        boost::beast::basic_stream<boost::asio::ip::tcp, executor_type, boost::beast::unlimited_rate_policy>;
    using timer_type = boost::asio::basic_waitable_timer<
        std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, executor_type>;

    // `ticket`: this connection's place under limits.max_connections (its client's address).
    // `tls`: on a TLS listener, the context to shake hands with (null: plain HTTP).
    http_connection(socket_type&& socket, const connection_shared& shared, connection_ticket ticket,
                    std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
    ~http_connection();

    void run();

    // The drain (SIGTERM), callable from any thread: both run on the connection's io_context.
    // drain(): a connection waiting for its next request closes now; one with a request in
    // flight closes once it is answered. cut(): shutdown_timeout_s is over: the request in
    // flight is abandoned and logged (a fragment keeps the bytes it delivered, as when its
    // client drops the connection). Both live in http_connection_drain.cpp.
    void drain();
    void cut();

private:
    // relock: a duplicate fragment's body, read without the session's lock; then the lock again.
    enum class after_body { finish_fragment, send_response, relock };
    // What the connection waits for; a completion that finds another phase is stale.
    // The Close-Session commit in flight, shared with its completion. A commit that outlives
    // busy_timeout_s is detached: the client is answered busy, the connection moves on to its
    // next request, and the completion owns the session's lock (released when the commit
    // ends, so a retried Close is busy meanwhile, never a second commit) and answers nobody.
    struct running_commit {
        std::string lock;       // the session lock handed over on detaching ("" = none held)
        bool detached = false;
    };
    // A password check on the auth pool, shared with it: a connection that stops waiting
    // (closed, cut, timed out) marks it abandoned, and the pool skips the hash.
    struct running_check {
        std::atomic<bool> abandoned{false};
    };
    enum class phase { header, auth, lock, blocking, commit, body, write, linger, closed };
    using clock = std::chrono::steady_clock;

    // TLS listeners: a handshake (bounded by read_timeout_s) before the first request; then the
    // same request loop, every read and write going through tls_ (plain: straight to stream_).
    void do_handshake();
    void on_client_hello(boost::beast::error_code ec);
    void on_handshake(boost::beast::error_code ec);
    using write_step = void (http_connection::*)(boost::beast::error_code, std::size_t);
    void async_write_buffer(boost::asio::const_buffer buffer, write_step next);
    void do_tls_body_read();
    void on_tls_body_read(boost::beast::error_code ec, std::size_t bytes);
    void do_read_header();
    void do_read_header_some();
    void on_read_header(boost::beast::error_code ec, std::size_t bytes);
    void on_header_error(boost::beast::error_code ec);
    void handle_request();
    // Who is asking: the prefix's authentication, answered here or after a check on the auth
    // pool (do_verify / on_verified); then the request goes on (on_principal).
    void authenticate();
    void do_verify(basic_attempt attempt);
    void on_verified(const std::shared_ptr<running_check>& check, auth_verdict verdict, bool hashed);
    void on_verdict(auth_verdict verdict);
    void abandon_check();
    void on_principal(std::string principal);
    void wait_for_lock();
    void on_lock_watch(boost::beast::error_code ec);
    void on_session_locked();
    template <typename Work, typename Done>
    void run_blocking(phase during, boost::asio::thread_pool::executor_type pool, Work work,
                      Done done);
    void on_close_done(const std::shared_ptr<running_commit>& commit, protocol::response response);
    // Delivery (issue 7; the logic lives in delivery_coordinator and reply_server).
    void on_fragment_finished(fragment_result result);
    // An upload-reply (GET/HEAD), once its prefix's authentication named `principal`.
    void serve_reply(bool head, std::string principal);
    void start_fragment(fragment_transfer transfer);
    void send_continue(after_body next);
    void read_duplicate_body();
    void on_continue_sent(boost::beast::error_code ec, std::size_t bytes);
    void start_body(after_body next);
    void consume_body(const char* data, std::size_t size);
    void do_wait_readable();
    void on_body_readable(boost::beast::error_code ec);
    void on_body_lost(const char* why);
    void on_body_complete();
    void finish_request(protocol::response response);
    void do_write(protocol::response response);
    void on_write(boost::beast::error_code ec, std::size_t bytes);
    void do_linger();
    void on_linger_readable(boost::beast::error_code ec);
    void arm_timer(clock::time_point at);
    void disarm_timer();
    void on_timer();
    clock::time_point body_deadline() const;
    void trim_buffer();
    void close();
    void release_session();
    void reset_request();
    void refresh_service();
    void on_drain();
    void on_cut();

    stream_type stream_;
    std::unique_ptr<tls_channel> tls_;  // null on a plain listener, and until the ClientHello
    std::shared_ptr<boost::asio::ssl::context> tls_context_;  // a TLS listener's, until tls_ is made
    // TLS bodies are read asynchronously (OpenSSL decrypts into the buffer before the handler
    // runs), so into a buffer of the connection's own, made for each TLS body and given back
    // once it is read.
    std::unique_ptr<char[]> tls_chunk_;
    timer_type timer_;  // body, lock, commit and linger deadlines
    boost::beast::flat_buffer buffer_;  // header bytes only; never larger than the header limit
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
    live_service& live_;
    std::shared_ptr<upload_service> service_;  // the request's configuration (refresh_service)
    blocking_pool& blocking_;
    auth_pool& auth_pool_;
    auth_failure_limiter& auth_failures_;
    connection_registry& registry_;
    std::optional<connection_registry::entry> registered_;
    connection_limits limits_;
    connection_ticket ticket_;  // counted while the connection lives; names the client
    phase phase_ = phase::header;
    bool header_started_ = false;  // a byte of this request arrived: read_timeout_s runs
    std::uint64_t timer_generation_ = 0;  // a timer completion of an older arming is stale
    bool timer_armed_ = false;
    std::uint64_t wait_generation_ = 0;   // likewise for the socket's readiness waits

    // The request in progress.
    std::optional<protocol::packet> packet_;
    protocol::upload_location location_;
    std::optional<std::string> echo_session_id_;
    std::string locked_session_;  // the session whose lock this connection asked for
    bool lock_held_ = false;      // granted: only then may this connection unlock it
    storage::session_locks::ticket lock_ticket_ = 0;  // while queued for the lock
    std::shared_ptr<running_commit> commit_;
    std::shared_ptr<running_check> check_;  // the password check waited for (phase auth)
    std::optional<bool> reply_head_;  // an upload-reply request (true: HEAD) rather than BITS
    std::optional<fragment_transfer> transfer_;
    std::uint64_t body_left_ = 0;   // body bytes still to come off the wire
    std::uint64_t body_read_ = 0;   // body bytes read so far (the minimum-rate deadline)
    clock::time_point body_started_{};
    clock::time_point body_last_read_{};
    bool body_timed_out_ = false;
    std::uint64_t skip_left_ = 0;   // of those, bytes to read and drop before writing
    std::error_code write_error_;   // first storage failure while streaming
    after_body after_body_ = after_body::send_response;
    std::optional<protocol::response> pending_response_;  // sent once a drained body is read
    bool expects_continue_ = false;
    bool unread_input_ = false;  // the client may still be sending what we will never read
    bool keep_alive_ = false;
    unsigned version_ = 11;
    std::string head_;  // the Ack being written, one buffer (format_response_head); reused
    bool close_after_write_ = false;
    // Operations: the client's address (access lines), and what each request is logged and
    // counted as (request_log: metrics, access log, recent errors).
    boost::asio::ip::tcp::endpoint peer_;
    request_log log_;
    void log_finished(const char* lost = nullptr);
};

}  // namespace bitsd::server
