#pragma once
// Who a request is from, for one upload prefix's "auth" settings (issue 9):
//   basic           Authorization: Basic, checked against crypt(3) hashes (libxcrypt) from the
//                   credentials file; the principal is "user:<name>".
//   trusted-header  the user named by a header (e.g. X-Remote-User) that a reverse proxy sets,
//                   believed only from trusted_proxies; the principal is "user:<name>".
// Without auth no authenticator exists and the principal is the client's address.
//
// Thread-safe: check() runs on any I/O thread; reload() swaps the credentials atomically.

#include "config/auth_settings.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bitsd::server {

struct auth_verdict {
    enum class kind {
        allowed,    // principal says who
        challenge,  // 401 + WWW-Authenticate: no or wrong credentials (the client may retry)
        forbidden,  // 403: not from a trusted proxy, or the proxy named no user
    };
    kind result = kind::challenge;
    std::string principal;
};

class authenticator {
public:
    // Loads the credentials file (basic). Throws std::runtime_error naming `key_path` (e.g.
    // "uploads[0].auth") when it cannot be read or holds a line that is not "user:hash" with a
    // hash crypt(3) accepts and does not call legacy (DES, MD5): start-up only.
    authenticator(const config::auth_settings& settings, std::string key_path);

    auth_verdict check(std::optional<std::string_view> authorization,
                       std::optional<std::string_view> user_header,
                       const boost::asio::ip::address& peer) const;

    // Basic without allow_basic_without_tls: served on TLS listeners only.
    bool needs_tls() const noexcept {
        return settings_.type == config::auth_type::basic && !settings_.allow_basic_without_tls;
    }
    // The header trusted-header reads ("" for basic).
    const std::string& user_header_name() const noexcept { return user_header_; }
    // The WWW-Authenticate value of a 401.
    const std::string& challenge() const noexcept { return challenge_; }

    // Re-reads the credentials file (for SIGHUP). On failure the old credentials stay and
    // `error` says why.
    bool reload(std::string& error);

private:
    using user_table = std::unordered_map<std::string, std::string>;  // name -> crypt hash
    std::shared_ptr<const user_table> load(std::string& error) const;
    auth_verdict check_basic(std::optional<std::string_view> authorization) const;
    bool from_trusted_proxy(const boost::asio::ip::address& peer) const;

    config::auth_settings settings_;
    std::string key_path_;
    std::string user_header_;
    std::string challenge_;
    std::vector<boost::asio::ip::network_v4> proxies_v4_;
    std::vector<boost::asio::ip::network_v6> proxies_v6_;
    mutable std::mutex mutex_;  // guards users_ (the pointer; the table itself is immutable)
    std::shared_ptr<const user_table> users_;
};

}  // namespace bitsd::server
