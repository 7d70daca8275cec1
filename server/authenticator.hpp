#pragma once
// Who a request is from, for one upload prefix's "auth" settings (issue 9):
//   basic           Authorization: Basic, checked against crypt(3) hashes (libxcrypt) from the
//                   credentials file; the principal is "user:<name>".
//   trusted-header  the user named by a header (e.g. X-Remote-User) that a reverse proxy sets,
//                   believed only from trusted_proxies; the principal is "user:<name>".
// Without auth no authenticator exists and the principal is the client's address.
//
// A Basic check is in two steps: start_basic() on the I/O thread reads the header and answers
// at once when no hash is needed (no or malformed credentials, or a credential verified within
// the last minute, remembered in credential_cache); otherwise verify() computes the hash, on a
// pool of its own (auth_pool), never on an I/O thread. An unknown user is checked against a
// dummy hash of the file's most expensive method, so that the time of the answer does not tell
// which users exist.
//
// Thread-safe: start_basic(), verify() and check() run on any thread; reload() swaps the
// credentials atomically and forgets every remembered credential.

#include "config/auth_settings.hpp"
#include "server/credential_cache.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <chrono>
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

// A Basic credential whose password must be checked (a hash: verify(), off the I/O threads).
struct basic_attempt {
    std::string user;
    std::string password;
    credential_key key;  // the header's keyed digest: remembered under it when it passes
};

// What start_basic() can tell without a hash: the verdict, or the attempt to verify.
struct basic_start {
    std::optional<auth_verdict> verdict;
    std::optional<basic_attempt> attempt;
};

class authenticator {
public:
    // Loads the credentials file (basic). Throws std::runtime_error naming `key_path` (e.g.
    // "uploads[0].auth") when it cannot be read or holds a line that is not "user:hash" with a
    // hash crypt(3) accepts and does not call legacy (DES, MD5): start-up only.
    authenticator(const config::auth_settings& settings, std::string key_path);

    // Everything in one call, the hash included: trusted-header (cheap) and tests.
    auth_verdict check(std::optional<std::string_view> authorization,
                       std::optional<std::string_view> user_header,
                       const boost::asio::ip::address& peer) const;

    // Basic, the part without a hash (see above). Counts malformed headers and cache hits.
    basic_start start_basic(std::optional<std::string_view> authorization,
                            credential_cache::clock::time_point now) const;
    // Basic, the hash check: allowed (and remembered) or challenge. Counts the hash and the
    // failure's reason.
    auth_verdict verify(const basic_attempt& attempt, credential_cache::clock::time_point now) const;

    bool is_basic() const noexcept { return settings_.type == config::auth_type::basic; }

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

    // What an unknown user's password is checked against ("" when the file lists nobody).
    std::string dummy_hash() const;

    // How long a verified credential is remembered, and how many at most.
    static constexpr std::chrono::seconds remember_for{60};
    static constexpr std::size_t remember_at_most = 4096;

private:
    struct user_table {
        std::unordered_map<std::string, std::string> hashes;  // name -> crypt hash
        std::string dummy;  // a hash of the most expensive method in the file
    };
    std::shared_ptr<const user_table> load(std::string& error) const;
    bool from_trusted_proxy(const boost::asio::ip::address& peer) const;

    config::auth_settings settings_;
    std::string key_path_;
    std::string user_header_;
    std::string challenge_;
    std::vector<boost::asio::ip::network_v4> proxies_v4_;
    std::vector<boost::asio::ip::network_v6> proxies_v6_;
    // Guards users_ (the pointer; the table itself is immutable), and orders remembering a
    // credential after a reload's forgetting.
    mutable std::mutex mutex_;
    std::shared_ptr<const user_table> users_;
    mutable credential_cache verified_{remember_for, remember_at_most};
};

}  // namespace bitsd::server
