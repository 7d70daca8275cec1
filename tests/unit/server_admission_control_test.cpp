// admission_control (issue 9, abuse limits): connection caps overall and per client, the
// Create-Session rate per client, and open sessions per client.

#include "protocol/bits_error.hpp"
#include "server/admission_control.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/ip/address.hpp>

#include <vector>

using bitsd::server::admission_control;
using bitsd::server::connection_ticket;
namespace protocol = bitsd::protocol;

namespace {

bitsd::config::abuse_limits no_limits() {
    bitsd::config::abuse_limits l;
    l.max_connections = 1000000;
    l.max_connections_per_client = 0;
    l.max_open_sessions_per_client = 0;
    l.create_sessions_per_minute_per_client = 0;
    return l;
}

protocol::packet packet_of(protocol::packet_kind kind, std::string id = {}) {
    protocol::packet p;
    p.kind = kind;
    if (!id.empty()) p.session_id = id;
    return p;
}

protocol::response created(const std::string& id) {
    protocol::response r;
    r.headers.emplace_back("BITS-Packet-Type", "Ack");
    r.headers.emplace_back("BITS-Session-Id", id);
    return r;
}

constexpr std::chrono::hours two_weeks{24 * 14};

}  // namespace

TEST_CASE("admission: a client is its address; an IPv6 client is its /64", "[server][admission]") {
    using boost::asio::ip::make_address;
    CHECK(admission_control::client_of(make_address("192.0.2.7")) == "192.0.2.7");
    CHECK(admission_control::client_of(make_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64");
    CHECK(admission_control::client_of(make_address("2001:db8:1:2:bbbb::9")) == "2001:db8:1:2::/64");
    CHECK(admission_control::client_of(make_address("2001:db8:1:3::1")) == "2001:db8:1:3::/64");
    CHECK(admission_control::client_of(make_address("::ffff:192.0.2.7")) == "192.0.2.7");
}

TEST_CASE("admission: connections are capped overall and per client", "[server][admission]") {
    auto limits = no_limits();
    limits.max_connections = 5;
    limits.max_connections_per_client = 3;
    admission_control control(limits, two_weeks);
    std::vector<connection_ticket> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(control.admit("a"));
        REQUIRE(held.back());
    }
    CHECK_FALSE(control.admit("a"));  // a's share is used up
    held.push_back(control.admit("b"));
    held.push_back(control.admit("c"));
    REQUIRE(held.back());
    CHECK(control.connections() == 5);
    CHECK_FALSE(control.admit("d"));  // everyone's is
    held.erase(held.begin());         // one of a's ends
    CHECK(control.connections() == 4);
    auto again = control.admit("a");
    CHECK(again);
    CHECK(held[0].client() == "a");
    // Moving a ticket moves the count, it never counts twice or frees twice.
    connection_ticket moved = std::move(again);
    CHECK(control.connections() == 5);
    moved = connection_ticket{};
    held.clear();
    CHECK(control.connections() == 0);
}

TEST_CASE("admission: Create-Session is rate-limited per client with bursts", "[server][admission]") {
    auto limits = no_limits();
    limits.create_sessions_per_minute_per_client = 60;  // one a second, bursts of 60
    admission_control control(limits, two_weeks);
    const auto t0 = admission_control::clock::now();
    for (int i = 0; i < 60; ++i) REQUIRE_FALSE(control.allow_create("a", "a", 0, t0));
    CHECK(control.allow_create("a", "a", 0, t0) == protocol::bits_errc::too_many_sessions);
    CHECK_FALSE(control.allow_create("b", "b", 0, t0));  // another client has its own bucket
    CHECK(control.allow_create("a", "a", 0, t0 + std::chrono::milliseconds(500)) == protocol::bits_errc::too_many_sessions);
    CHECK_FALSE(control.allow_create("a", "a", 0, t0 + std::chrono::milliseconds(1100)));  // one token back
    CHECK(control.allow_create("a", "a", 0, t0 + std::chrono::milliseconds(1200)) == protocol::bits_errc::too_many_sessions);
    // A quiet minute refills the whole burst, never more.
    const auto later = t0 + std::chrono::minutes(10);
    for (int i = 0; i < 60; ++i) REQUIRE_FALSE(control.allow_create("a", "a", 0, later));
    CHECK(control.allow_create("a", "a", 0, later) == protocol::bits_errc::too_many_sessions);
}

TEST_CASE("admission: open sessions per client, freed by Close and Cancel", "[server][admission]") {
    auto limits = no_limits();
    limits.max_open_sessions_per_client = 2;
    admission_control control(limits, std::chrono::hours(1));
    const auto now = admission_control::clock::now();
    const auto create = packet_of(protocol::packet_kind::create_session);
    REQUIRE_FALSE(control.allow_create("a", "a", 0, now));
    control.observe("a", "a", 0, create, created("{S1}"), now);
    REQUIRE_FALSE(control.allow_create("a", "a", 0, now));
    control.observe("a", "a", 0, create, created("{S2}"), now);
    CHECK(control.open_sessions("a") == 2);
    CHECK(control.allow_create("a", "a", 0, now) == protocol::bits_errc::too_many_sessions);
    CHECK_FALSE(control.allow_create("b", "b", 0, now));

    // A refused Create-Session (not 200) counts nothing; a failed Close frees nothing.
    protocol::response refused = created("{S3}");
    refused.status = 503;
    control.observe("b", "b", 0, create, refused, now);
    CHECK(control.open_sessions("b") == 0);
    protocol::response failed;
    failed.status = 500;
    control.observe("a", "a", 0, packet_of(protocol::packet_kind::close_session, "{S1}"), failed, now);
    CHECK(control.open_sessions("a") == 2);

    control.observe("a", "a", 0, packet_of(protocol::packet_kind::close_session, "{S1}"), protocol::response{}, now);
    CHECK(control.open_sessions("a") == 1);
    control.observe("a", "a", 0, packet_of(protocol::packet_kind::close_session, "{S1}"), protocol::response{}, now);
    CHECK(control.open_sessions("a") == 1);  // a repeated Close frees nothing more
    // Another connection (even another client) may close or cancel it: the session is freed.
    control.observe("z", "z", 0, packet_of(protocol::packet_kind::cancel_session, "{S2}"), protocol::response{}, now);
    CHECK(control.open_sessions("a") == 0);
    CHECK_FALSE(control.allow_create("a", "a", 0, now));

    // Sessions nobody closes stop counting once they could have expired.
    control.observe("c", "c", 0, create, created("{S4}"), now);
    control.observe("c", "c", 0, create, created("{S5}"), now);
    CHECK(control.allow_create("c", "c", 0, now + std::chrono::minutes(30)) == protocol::bits_errc::too_many_sessions);
    CHECK_FALSE(control.allow_create("c", "c", 0, now + std::chrono::minutes(61)));
    CHECK(control.open_sessions("c") == 0);
}

TEST_CASE("admission: max_sessions_per_user per prefix and principal, fatal", "[server][admission]") {
    admission_control control(no_limits(), std::chrono::hours(1), {2, 0});
    const auto now = admission_control::clock::now();
    const auto create = packet_of(protocol::packet_kind::create_session);
    control.observe("10.0.0.1", "alice", 0, create, created("{A1}"), now);
    control.observe("10.0.0.2", "alice", 0, create, created("{A2}"), now);  // another address
    CHECK(control.user_sessions("alice", 0) == 2);
    CHECK(control.allow_create("10.0.0.3", "alice", 0, now) == protocol::bits_errc::user_session_limit);
    CHECK_FALSE(control.allow_create("10.0.0.3", "bob", 0, now));    // another principal
    CHECK_FALSE(control.allow_create("10.0.0.3", "alice", 1, now));  // a prefix without a limit
    control.observe("10.0.0.1", "alice", 0, packet_of(protocol::packet_kind::close_session, "{A1}"),
                    protocol::response{}, now);
    CHECK_FALSE(control.allow_create("10.0.0.3", "alice", 0, now));
    CHECK(protocol::answer_for(protocol::bits_errc::user_session_limit).http_status == 403);  // fatal
}

TEST_CASE("admission: max_open_sessions_per_client caps an authenticated user, not its proxy",
          "[server][admission]") {
    auto limits = no_limits();
    limits.max_open_sessions_per_client = 2;
    admission_control control(limits, std::chrono::hours(1));
    const auto now = admission_control::clock::now();
    const auto create = packet_of(protocol::packet_kind::create_session);
    // Two users behind one trusted proxy (one address).
    const std::string proxy = "10.0.0.9";
    REQUIRE_FALSE(control.allow_create(proxy, "user:alice", 0, now));
    control.observe(proxy, "user:alice", 0, create, created("{A1}"), now);
    REQUIRE_FALSE(control.allow_create(proxy, "user:alice", 0, now));
    control.observe(proxy, "user:alice", 0, create, created("{A2}"), now);
    CHECK(control.open_sessions("user:alice") == 2);
    CHECK(control.allow_create(proxy, "user:alice", 0, now) == protocol::bits_errc::too_many_sessions);
    // The same user from another address holds the same sessions.
    CHECK(control.allow_create("10.0.0.10", "user:alice", 0, now) == protocol::bits_errc::too_many_sessions);
    // Another user behind the same proxy has a cap of its own; so has the proxy's own address.
    CHECK_FALSE(control.allow_create(proxy, "user:bob", 0, now));
    control.observe(proxy, "user:bob", 0, create, created("{B1}"), now);
    CHECK(control.open_sessions("user:bob") == 1);
    CHECK(control.open_sessions(proxy) == 0);
    CHECK_FALSE(control.allow_create(proxy, proxy, 0, now));
    // A Close frees the user's place.
    control.observe(proxy, "user:alice", 0, packet_of(protocol::packet_kind::close_session, "{A1}"),
                    protocol::response{}, now);
    CHECK_FALSE(control.allow_create(proxy, "user:alice", 0, now));
}

TEST_CASE("admission: the Create-Session rate is per user when authenticated, per address otherwise",
          "[server][admission]") {
    auto limits = no_limits();
    limits.create_sessions_per_minute_per_client = 3;
    admission_control control(limits, two_weeks);
    const auto t0 = admission_control::clock::now();
    const std::string proxy = "10.0.0.9";
    for (int i = 0; i < 3; ++i) REQUIRE_FALSE(control.allow_create(proxy, "user:alice", 0, t0));
    CHECK(control.allow_create(proxy, "user:alice", 0, t0) == protocol::bits_errc::too_many_sessions);
    // Bob behind the same proxy, and the proxy's unauthenticated requests, have budgets of their own.
    for (int i = 0; i < 3; ++i) CHECK_FALSE(control.allow_create(proxy, "user:bob", 0, t0));
    CHECK(control.allow_create(proxy, "user:bob", 0, t0) == protocol::bits_errc::too_many_sessions);
    for (int i = 0; i < 3; ++i) CHECK_FALSE(control.allow_create(proxy, proxy, 0, t0));
    CHECK(control.allow_create(proxy, proxy, 0, t0) == protocol::bits_errc::too_many_sessions);
    // Alice from another address still spends her own budget.
    CHECK(control.allow_create("10.0.0.10", "user:alice", 0, t0) == protocol::bits_errc::too_many_sessions);
}
