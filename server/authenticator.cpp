#include "server/authenticator.hpp"

#include "server/basic_credentials.hpp"
#include "server/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace bitsd::server {

namespace {

constexpr std::size_t max_user_length = 256;
constexpr std::size_t max_password_length = 1024;
constexpr std::size_t max_credentials_line = 4096;

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// A hash's method and cost without its salt and checksum: "$y$j9T", "$6$rounds=9000", "$6".
std::string method_of(const std::string& hash) {
    const auto checksum = hash.rfind('$');
    if (checksum == std::string::npos || checksum == 0) return hash;
    const auto salt = hash.rfind('$', checksum - 1);
    return salt == std::string::npos ? hash : hash.substr(0, salt);
}

// A dummy hash of the most expensive method and cost among `hashes`: one of each is made and
// timed (a hash per method, at load time only; files hold one or two methods).
std::string most_expensive_dummy(const std::unordered_map<std::string, std::string>& hashes) {
    std::unordered_map<std::string, const std::string*> methods;
    for (const auto& [user, hash] : hashes) methods.emplace(method_of(hash), &hash);
    std::string best;
    auto slowest = std::chrono::steady_clock::duration::min();
    for (const auto& [method, hash] : methods) {
        const auto started = std::chrono::steady_clock::now();
        auto dummy = dummy_hash(*hash);
        const auto took = std::chrono::steady_clock::now() - started;
        if (!dummy.empty() && took > slowest) {
            slowest = took;
            best = std::move(dummy);
        }
    }
    return best;
}

}  // namespace

authenticator::authenticator(const config::auth_settings& settings, std::string key_path)
    : settings_(settings), key_path_(std::move(key_path)) {
    if (settings_.type == config::auth_type::basic) {
        challenge_ = "Basic realm=\"" + settings_.realm + "\", charset=\"UTF-8\"";
        std::string error;
        users_ = load(error);
        if (!users_) throw std::runtime_error(error);
    }
    if (settings_.type == config::auth_type::trusted_header) {
        user_header_ = settings_.header;
        for (const auto& text : settings_.trusted_proxies) {
            // Validated by the config reader; a single address is its own /32 or /128.
            boost::system::error_code ec;
            if (text.find('/') == std::string::npos) {
                const auto address = boost::asio::ip::make_address(text, ec);
                if (address.is_v4()) proxies_v4_.emplace_back(address.to_v4(), 32);
                else proxies_v6_.emplace_back(address.to_v6(), 128);
            } else if (text.find(':') != std::string::npos) {
                proxies_v6_.push_back(boost::asio::ip::make_network_v6(text, ec));
            } else {
                proxies_v4_.push_back(boost::asio::ip::make_network_v4(text, ec));
            }
        }
    }
}

std::shared_ptr<const authenticator::user_table> authenticator::load(std::string& error) const {
    const std::string where = key_path_ + ".credentials_file: " + settings_.credentials_file.string();
    std::ifstream file(settings_.credentials_file, std::ios::binary);
    if (!file) {
        error = where + ": cannot be read";
        return nullptr;
    }
    auto users = std::make_shared<user_table>();
    std::string line;
    std::size_t number = 0;
    while (std::getline(file, line)) {
        ++number;
        const std::string at = where + " line " + std::to_string(number);
        if (line.size() > max_credentials_line) {
            error = at + ": longer than " + std::to_string(max_credentials_line) + " bytes";
            return nullptr;
        }
        const auto text = trim(line);
        if (text.empty() || text.front() == '#') continue;
        const auto colon = text.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon > max_user_length) {
            error = at + ": expected \"user:hash\"";
            return nullptr;
        }
        const std::string user(text.substr(0, colon));
        const std::string hash(text.substr(colon + 1));
        // Never a plaintext password, never a hash crypt(3) itself calls weak.
        if (hash.empty() || hash.front() != '$' || !hash_is_accepted(hash)) {
            error = at + ": the hash of \"" + user +
                    "\" is not a crypt(3) hash bitsd accepts (yescrypt or sha512-crypt; write it with "
                    "`bitsd passwd`)";
            return nullptr;
        }
        if (!users->hashes.emplace(user, hash).second) {
            error = at + ": \"" + user + "\" is listed twice";
            return nullptr;
        }
    }
    users->dummy = most_expensive_dummy(users->hashes);
    return users;
}

bool authenticator::reload(std::string& error) {
    if (settings_.type != config::auth_type::basic) return true;
    auto users = load(error);
    if (!users) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    users_ = std::move(users);
    verified_.clear();  // a removed user or a changed password stops passing at once
    return true;
}

std::string authenticator::dummy_hash() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return users_ ? users_->dummy : std::string();
}

auth_verdict authenticator::check(std::optional<std::string_view> authorization,
                                  std::optional<std::string_view> user_header,
                                  const boost::asio::ip::address& peer) const {
    switch (settings_.type) {
    case config::auth_type::none: return {auth_verdict::kind::allowed, {}};
    case config::auth_type::basic: {
        const auto now = credential_cache::clock::now();
        auto started = start_basic(authorization, now);
        return started.verdict ? std::move(*started.verdict) : verify(*started.attempt, now);
    }
    case config::auth_type::trusted_header:
        break;
    }
    if (!from_trusted_proxy(peer) || !user_header) return {auth_verdict::kind::forbidden, {}};
    const auto user = trim(*user_header);
    if (user.empty() || user.size() > max_user_length) return {auth_verdict::kind::forbidden, {}};
    return {auth_verdict::kind::allowed, "user:" + std::string(user)};
}

basic_start authenticator::start_basic(std::optional<std::string_view> authorization,
                                       credential_cache::clock::time_point now) const {
    const auth_verdict challenge{auth_verdict::kind::challenge, {}};
    // No credentials: the first request of a client that waits for the challenge; not a failure.
    if (!authorization) return {challenge, std::nullopt};
    const auto malformed = [&] {
        metrics::global().auth_failed(auth_failure_label::malformed);
        return basic_start{challenge, std::nullopt};
    };
    if (!iequals_prefix(*authorization, "Basic ")) return malformed();
    const auto decoded = decode_base64(trim(authorization->substr(6)), 4 * max_password_length);
    if (!decoded) return malformed();
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0 || colon > max_user_length ||
        decoded->find('\0') != std::string::npos) {
        return malformed();
    }
    const auto key = keyed_digest(*authorization);
    if (auto principal = verified_.find(key, now)) {
        metrics::global().auth_cache_hit();
        return {auth_verdict{auth_verdict::kind::allowed, std::move(*principal)}, std::nullopt};
    }
    return {std::nullopt, basic_attempt{decoded->substr(0, colon), decoded->substr(colon + 1), key}};
}

auth_verdict authenticator::verify(const basic_attempt& attempt, credential_cache::clock::time_point now) const {
    std::shared_ptr<const user_table> users;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        users = users_;
    }
    metrics::global().auth_verified();
    const auto it = users->hashes.find(attempt.user);
    if (it == users->hashes.end()) {
        // As costly as the most expensive known user, so the timing does not tell names apart.
        if (!users->dummy.empty()) password_matches(attempt.password, users->dummy);
        metrics::global().auth_failed(auth_failure_label::unknown_user);
        return {auth_verdict::kind::challenge, {}};
    }
    if (!password_matches(attempt.password, it->second)) {
        metrics::global().auth_failed(auth_failure_label::wrong_password);
        return {auth_verdict::kind::challenge, {}};
    }
    auth_verdict allowed{auth_verdict::kind::allowed, "user:" + attempt.user};
    {
        // Remembered only if the credentials it was checked against are still in force.
        std::lock_guard<std::mutex> lock(mutex_);
        if (users_ == users) verified_.remember(attempt.key, allowed.principal, now);
    }
    return allowed;
}

bool authenticator::from_trusted_proxy(const boost::asio::ip::address& peer) const {
    auto address = peer;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    }
    if (address.is_v4()) {
        const auto v4 = address.to_v4();
        return std::any_of(proxies_v4_.begin(), proxies_v4_.end(), [&](const auto& net) {
            return boost::asio::ip::network_v4(v4, net.prefix_length()).canonical() == net.canonical();
        });
    }
    const auto v6 = address.to_v6();
    return std::any_of(proxies_v6_.begin(), proxies_v6_.end(), [&](const auto& net) {
        return boost::asio::ip::network_v6(v6, net.prefix_length()).canonical() == net.canonical();
    });
}

}  // namespace bitsd::server
