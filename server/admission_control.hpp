#pragma once
// What one client, or all clients together, may hold (config "limits"): open connections
// overall and per client address, the sessions a principal has open, and the rate of its
// Create-Session requests (a token bucket per principal). Thread-safe: the listener admits on
// the main I/O context, connections end and create sessions on any I/O thread.
//
// A client is its address; an IPv6 client is its /64, since one host commonly holds a whole
// /64 and could otherwise use a fresh address per connection. Sessions count per principal:
// the authenticated user ("user:<name>"), or the client's address without authentication, so
// the users behind one trusted proxy never share a cap or a rate.

#include "config/abuse_limits.hpp"
#include "protocol/engine.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace bitsd::server {

class admission_control;

// One admitted connection, counted until it is destroyed. Empty when refused.
class connection_ticket {
public:
    connection_ticket() = default;
    connection_ticket(connection_ticket&& other) noexcept;
    connection_ticket& operator=(connection_ticket&& other) noexcept;
    connection_ticket(const connection_ticket&) = delete;
    connection_ticket& operator=(const connection_ticket&) = delete;
    ~connection_ticket();

    explicit operator bool() const noexcept { return owner_ != nullptr; }
    const std::string& client() const noexcept { return client_; }

private:
    friend class admission_control;
    connection_ticket(admission_control* owner, std::string client) noexcept
        : owner_(owner), client_(std::move(client)) {}
    void release() noexcept;

    admission_control* owner_ = nullptr;
    std::string client_;
};

class admission_control {
public:
    using clock = std::chrono::steady_clock;

    // `session_lifetime`: how long a created session may stay open at most (the longest
    // session_timeout_s): a session neither closed nor cancelled stops counting after it.
    // `sessions_per_user`: max_sessions_per_user of each upload prefix, by index (0 = none).
    // `prefix_names`: each prefix's url_prefix, by index (what a user's sessions are counted
    // under, so that counts survive a reload that reorders the prefixes); default: the index.
    admission_control(const config::abuse_limits& limits, std::chrono::seconds session_lifetime,
                      std::vector<std::uint64_t> sessions_per_user = {},
                      std::vector<std::string> prefix_names = {});

    // A reload (SIGHUP): new limits for what comes next. One admission_control outlives every
    // configuration generation, so connections and sessions counted so far keep counting.
    void apply(const config::abuse_limits& limits, std::chrono::seconds session_lifetime,
               std::vector<std::uint64_t> sessions_per_user, std::vector<std::string> prefix_names);

    // The key of a client: the address as text, an IPv6 address cut to its /64.
    static std::string client_of(const boost::asio::ip::address& address);

    // A ticket for a new connection, or an empty one when the overall or per-client cap is
    // reached (the caller closes the connection).
    connection_ticket admit(const std::string& client);

    // Before a Create-Session under upload prefix `prefix` is carried out: {},
    // user_session_limit (the principal holds max_sessions_per_user sessions there: fatal), or
    // too_many_sessions (the principal is over the rate, or holds max_open_sessions_per_client
    // sessions under all prefixes: transient). A request allowed takes the principal's token.
    // `client` is the connection's address, `principal` whom the request is from (the address
    // itself without authentication); every count is the principal's.
    std::error_code allow_create(const std::string& client, const std::string& principal,
                                 std::size_t prefix, clock::time_point now);

    // After every answer: counts a session created (Create-Session answered 200) against its
    // principal, overall and under its prefix, and frees it when a Close-Session or Cancel-Session of it is
    // answered 200.
    void observe(const std::string& client, const std::string& principal, std::size_t prefix,
                 const protocol::packet& request, const protocol::response& response,
                 clock::time_point now);

    std::uint64_t connections() const;
    std::uint64_t open_sessions(const std::string& principal) const;  // under all prefixes
    std::uint64_t user_sessions(const std::string& principal, std::size_t prefix) const;

private:
    friend class connection_ticket;
    void release(const std::string& client) noexcept;
    void forget_expired(clock::time_point now);

    struct bucket {
        double tokens = 0;
        clock::time_point updated{};
    };
    struct open_session {
        std::string principal;
        std::string user;  // user_key(principal, prefix)
        clock::time_point created{};
    };
    std::string user_key(const std::string& principal, std::size_t prefix) const;  // mutex_ held
    bool tracks_sessions() const noexcept;
    void forget(std::unordered_map<std::string, open_session>::iterator it);

    config::abuse_limits limits_;                // guarded by mutex_ (apply)
    std::chrono::seconds session_lifetime_;      // likewise
    mutable std::mutex mutex_;
    std::uint64_t connections_ = 0;
    std::unordered_map<std::string, std::uint64_t> connections_of_;
    std::unordered_map<std::string, bucket> buckets_;  // by principal
    std::unordered_map<std::string, open_session> sessions_;        // by session id
    std::unordered_map<std::string, std::uint64_t> sessions_of_;    // by principal
    std::unordered_map<std::string, std::uint64_t> sessions_of_user_;  // by user_key
    std::vector<std::uint64_t> sessions_per_user_;  // guarded by mutex_ (apply)
    std::vector<std::string> prefix_names_;         // likewise
    clock::time_point next_expiry_check_{};
};

}  // namespace bitsd::server
