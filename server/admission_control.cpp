#include "server/admission_control.hpp"

#include "protocol/bits_error.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string_view>

namespace bitsd::server {

namespace {

// Buckets of clients that have been quiet long enough to be full again are dropped once the
// table grows past this, so a scan from many addresses cannot grow it without bound.
constexpr std::size_t bucket_table_prune = 64 * 1024;

std::optional<std::string> header_of(const protocol::response& r, std::string_view name) {
    for (const auto& [key, value] : r.headers) {
        if (key == name) return value;
    }
    return std::nullopt;
}

}  // namespace

// ---- connection_ticket ----------------------------------------------------------------------

connection_ticket::connection_ticket(connection_ticket&& other) noexcept
    : owner_(other.owner_), client_(std::move(other.client_)) {
    other.owner_ = nullptr;
}

connection_ticket& connection_ticket::operator=(connection_ticket&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = other.owner_;
        client_ = std::move(other.client_);
        other.owner_ = nullptr;
    }
    return *this;
}

connection_ticket::~connection_ticket() { release(); }

void connection_ticket::release() noexcept {
    if (owner_ != nullptr) owner_->release(client_);
    owner_ = nullptr;
}

// ---- admission_control ----------------------------------------------------------------------

admission_control::admission_control(const config::abuse_limits& limits,
                                     std::chrono::seconds session_lifetime,
                                     std::vector<std::uint64_t> sessions_per_user,
                                     std::vector<std::string> prefix_names)
    : limits_(limits),
      session_lifetime_(session_lifetime),
      sessions_per_user_(std::move(sessions_per_user)),
      prefix_names_(std::move(prefix_names)) {}

void admission_control::apply(const config::abuse_limits& limits, std::chrono::seconds session_lifetime,
                              std::vector<std::uint64_t> sessions_per_user,
                              std::vector<std::string> prefix_names) {
    std::lock_guard<std::mutex> lock(mutex_);
    limits_ = limits;
    session_lifetime_ = session_lifetime;
    sessions_per_user_ = std::move(sessions_per_user);
    prefix_names_ = std::move(prefix_names);
}

std::string admission_control::user_key(const std::string& principal, std::size_t prefix) const {
    const auto name = prefix < prefix_names_.size() ? prefix_names_[prefix] : std::to_string(prefix);
    return name + '\n' + principal;
}

bool admission_control::tracks_sessions() const noexcept {
    if (limits_.max_open_sessions_per_client != 0) return true;
    return std::any_of(sessions_per_user_.begin(), sessions_per_user_.end(),
                       [](std::uint64_t n) { return n != 0; });
}

std::uint64_t admission_control::user_sessions(const std::string& principal, std::size_t prefix) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sessions_of_user_.find(user_key(principal, prefix));
    return it == sessions_of_user_.end() ? 0 : it->second;
}

void admission_control::forget(std::unordered_map<std::string, open_session>::iterator it) {
    const auto owner = sessions_of_.find(it->second.principal);
    if (owner != sessions_of_.end() && --owner->second == 0) sessions_of_.erase(owner);
    const auto user = sessions_of_user_.find(it->second.user);
    if (user != sessions_of_user_.end() && --user->second == 0) sessions_of_user_.erase(user);
    sessions_.erase(it);
}

std::string admission_control::client_of(const boost::asio::ip::address& address) {
    if (address.is_v4()) return address.to_string();
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

connection_ticket admission_control::admit(const std::string& client) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (connections_ >= limits_.max_connections) return {};
    auto& mine = connections_of_[client];
    if (limits_.max_connections_per_client != 0 && mine >= limits_.max_connections_per_client) {
        if (mine == 0) connections_of_.erase(client);
        return {};
    }
    ++mine;
    ++connections_;
    return connection_ticket(this, client);
}

void admission_control::release(const std::string& client) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    --connections_;
    const auto it = connections_of_.find(client);
    if (it != connections_of_.end() && --it->second == 0) connections_of_.erase(it);
}

std::uint64_t admission_control::connections() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return connections_;
}

std::uint64_t admission_control::open_sessions(const std::string& principal) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sessions_of_.find(principal);
    return it == sessions_of_.end() ? 0 : it->second;
}

std::error_code admission_control::allow_create(const std::string& /*client*/, const std::string& principal,
                                                std::size_t prefix, clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (tracks_sessions()) forget_expired(now);
    if (prefix < sessions_per_user_.size() && sessions_per_user_[prefix] != 0) {
        const auto it = sessions_of_user_.find(user_key(principal, prefix));
        if (it != sessions_of_user_.end() && it->second >= sessions_per_user_[prefix]) {
            return protocol::bits_errc::user_session_limit;
        }
    }
    // Keyed by the principal: an authenticated user wherever it comes from (users behind one
    // trusted proxy share its address, never their caps), the address without authentication.
    if (limits_.max_open_sessions_per_client != 0) {
        const auto it = sessions_of_.find(principal);
        if (it != sessions_of_.end() && it->second >= limits_.max_open_sessions_per_client) {
            return protocol::bits_errc::too_many_sessions;
        }
    }
    const std::uint64_t per_minute = limits_.create_sessions_per_minute_per_client;
    if (per_minute == 0) return {};
    const double capacity = static_cast<double>(per_minute);
    const auto refill = [&](bucket& b) {
        const std::chrono::duration<double> elapsed = now - b.updated;
        b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed.count()) * capacity / 60.0);
        b.updated = now;
    };
    if (buckets_.size() >= bucket_table_prune) {
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            refill(it->second);
            it = it->second.tokens >= capacity ? buckets_.erase(it) : std::next(it);
        }
    }
    const auto [it, fresh] = buckets_.try_emplace(principal, bucket{capacity, now});
    bucket& b = it->second;
    if (!fresh) refill(b);
    if (b.tokens < 1.0) return protocol::bits_errc::too_many_sessions;
    b.tokens -= 1.0;
    return {};
}

void admission_control::observe(const std::string& /*client*/, const std::string& principal,
                                std::size_t prefix, const protocol::packet& request,
                                const protocol::response& response, clock::time_point now) {
    if (response.status != 200) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!tracks_sessions()) return;
    if (request.kind == protocol::packet_kind::create_session) {
        const auto id = header_of(response, "BITS-Session-Id");
        if (!id) return;
        auto user = user_key(principal, prefix);
        if (sessions_.try_emplace(*id, open_session{principal, user, now}).second) {
            ++sessions_of_[principal];
            ++sessions_of_user_[user];
        }
        return;
    }
    if (request.kind != protocol::packet_kind::close_session &&
        request.kind != protocol::packet_kind::cancel_session) {
        return;
    }
    if (!request.session_id) return;
    const auto it = sessions_.find(*request.session_id);
    if (it != sessions_.end()) forget(it);
}

void admission_control::forget_expired(clock::time_point now) {
    // A session nobody closed or cancelled expires on disk after its timeout; it stops counting
    // then. Checked at most once a minute: the walk is over every open session.
    if (now < next_expiry_check_) return;
    next_expiry_check_ = now + std::chrono::minutes(1);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (now - it->second.created < session_lifetime_) {
            ++it;
            continue;
        }
        forget(it++);
    }
}

}  // namespace bitsd::server
