// credential_cache: verified Basic credentials remembered for a while, bounded in number.

#include "server/credential_cache.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using bitsd::server::credential_cache;
using bitsd::server::credential_key;
using namespace std::chrono_literals;

namespace {

credential_key key_of(unsigned char n) {
    credential_key key{};
    key.fill(n);
    key[31] = static_cast<unsigned char>(n ^ 0x5a);
    return key;
}

}  // namespace

TEST_CASE("credential cache: remembered until its lifetime ends", "[server][auth]") {
    credential_cache cache(60s, 16);
    const auto t0 = credential_cache::clock::time_point{} + 1000s;
    CHECK_FALSE(cache.find(key_of(1), t0));
    cache.remember(key_of(1), "user:alice", t0);
    CHECK(cache.find(key_of(1), t0 + 59s) == std::optional<std::string>("user:alice"));
    CHECK_FALSE(cache.find(key_of(1), t0 + 60s));
    CHECK_FALSE(cache.find(key_of(2), t0));
    // Remembering again starts a new lifetime.
    cache.remember(key_of(1), "user:alice", t0 + 30s);
    CHECK(cache.find(key_of(1), t0 + 80s));
    cache.clear();
    CHECK_FALSE(cache.find(key_of(1), t0 + 31s));
    CHECK(cache.size() == 0);
}

TEST_CASE("credential cache: bounded; expired entries, then the oldest, make room", "[server][auth]") {
    credential_cache cache(60s, 3);
    const auto t0 = credential_cache::clock::time_point{} + 1000s;
    cache.remember(key_of(1), "user:a", t0);
    cache.remember(key_of(2), "user:b", t0 + 1s);
    cache.remember(key_of(3), "user:c", t0 + 2s);
    cache.remember(key_of(4), "user:d", t0 + 3s);  // full: the one closest to expiry goes
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.find(key_of(1), t0 + 3s));
    CHECK(cache.find(key_of(2), t0 + 3s));
    CHECK(cache.find(key_of(4), t0 + 3s) == std::optional<std::string>("user:d"));
    // Later, every old entry has expired: all of them go at the next insertion.
    cache.remember(key_of(5), "user:e", t0 + 200s);
    CHECK(cache.size() == 1);
    CHECK(cache.find(key_of(5), t0 + 200s));
}
