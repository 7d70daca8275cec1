#include "server/authenticator.hpp"

#include "server/basic_credentials.hpp"

#include <algorithm>
#include <cctype>
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
        if (!users->emplace(user, hash).second) {
            error = at + ": \"" + user + "\" is listed twice";
            return nullptr;
        }
    }
    return users;
}

bool authenticator::reload(std::string& error) {
    if (settings_.type != config::auth_type::basic) return true;
    auto users = load(error);
    if (!users) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    users_ = std::move(users);
    return true;
}

auth_verdict authenticator::check(std::optional<std::string_view> authorization,
                                  std::optional<std::string_view> user_header,
                                  const boost::asio::ip::address& peer) const {
    switch (settings_.type) {
    case config::auth_type::none: return {auth_verdict::kind::allowed, {}};
    case config::auth_type::basic: return check_basic(authorization);
    case config::auth_type::trusted_header:
        break;
    }
    if (!from_trusted_proxy(peer) || !user_header) return {auth_verdict::kind::forbidden, {}};
    const auto user = trim(*user_header);
    if (user.empty() || user.size() > max_user_length) return {auth_verdict::kind::forbidden, {}};
    return {auth_verdict::kind::allowed, "user:" + std::string(user)};
}

auth_verdict authenticator::check_basic(std::optional<std::string_view> authorization) const {
    const auth_verdict challenge{auth_verdict::kind::challenge, {}};
    if (!authorization || !iequals_prefix(*authorization, "Basic ")) return challenge;
    const auto decoded = decode_base64(trim(authorization->substr(6)), 4 * max_password_length);
    if (!decoded) return challenge;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0 || colon > max_user_length ||
        decoded->find('\0') != std::string::npos) {
        return challenge;
    }
    const std::string user = decoded->substr(0, colon);
    const std::string password = decoded->substr(colon + 1);
    std::shared_ptr<const user_table> users;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        users = users_;
    }
    const auto it = users->find(user);
    if (it == users->end()) {
        // An unknown user costs a hash too, so the answer's timing does not tell names apart.
        if (!users->empty()) password_matches(password, users->begin()->second);
        return challenge;
    }
    if (!password_matches(password, it->second)) return challenge;
    return {auth_verdict::kind::allowed, "user:" + user};
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
