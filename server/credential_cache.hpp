#pragma once
// Credentials verified shortly before (Basic): Windows sends Authorization with every request,
// and a password hash costs milliseconds of CPU, so a credential that passed is remembered for
// a while and the next request with the same header costs no hash. Keyed by a keyed hash of
// the whole header (credential_key in basic_credentials.hpp), never by the password; failures
// are never remembered. Bounded: at most `capacity` entries, the one closest to expiry goes
// first. Thread-safe (one mutex; a lookup is a hash-map find).
//
// One cache per authenticator, so a reload (which builds new authenticators from the file)
// forgets every credential: a removed user or a changed password stops passing at once.

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bitsd::server {

using credential_key = std::array<unsigned char, 32>;

class credential_cache {
public:
    using clock = std::chrono::steady_clock;

    credential_cache(std::chrono::seconds lifetime, std::size_t capacity);

    // The principal a credential was verified as, if it was within the lifetime.
    std::optional<std::string> find(const credential_key& key, clock::time_point now) const;
    void remember(const credential_key& key, std::string principal, clock::time_point now);
    void clear();
    std::size_t size() const;

private:
    struct key_hash {
        std::size_t operator()(const credential_key& key) const noexcept;
    };
    struct entry {
        std::string principal;
        clock::time_point expires{};
    };
    void make_room(clock::time_point now);  // mutex_ held

    std::chrono::seconds lifetime_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<credential_key, entry, key_hash> entries_;
};

}  // namespace bitsd::server
