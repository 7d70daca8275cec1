// The JSON the admin listener serves: sessions split into active and finished, newest first,
// counts by state, and hostile client values kept valid JSON.

#include "server/admin_api.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace bitsd;
using nlohmann::json;

namespace {

storage::session_info session(const std::string& id, storage::session_state state, std::uint64_t received,
                              std::optional<std::uint64_t> total, std::int64_t last) {
    storage::session_info info;
    info.metadata.id = id;
    info.metadata.target = "/uploads/" + id + ".bin";
    info.metadata.state = state;
    info.metadata.total = total;
    info.metadata.created_unix = 1000;
    info.received = received;
    info.last_activity_unix = last;
    return info;
}

}  // namespace

TEST_CASE("/api/sessions lists active and finished sessions, newest first", "[server][admin]") {
    using storage::session_state;
    std::vector<storage::session_info> sessions{
        session("{A}", session_state::receiving, 10, 100, 2000),
        session("{B}", session_state::closed, 5, 5, 3000),
        session("{C}", session_state::receiving, 0, std::nullopt, 2500),
        session("{D}", session_state::cancelled, 0, 9, 1500),
        session("{E}", session_state::committing, 7, 7, 2600),
    };
    const auto doc = json::parse(server::sessions_json(sessions, 4000));
    CHECK(doc["now"] == 4000);
    CHECK(doc["counts"]["receiving"] == 2);
    CHECK(doc["counts"]["committing"] == 1);
    CHECK(doc["counts"]["closed"] == 1);
    CHECK(doc["counts"]["cancelled"] == 1);
    REQUIRE(doc["active"].size() == 3);
    CHECK(doc["active"][0]["id"] == "{E}");
    CHECK(doc["active"][1]["id"] == "{C}");
    CHECK(doc["active"][1]["total"].is_null());
    CHECK(doc["active"][2]["id"] == "{A}");
    CHECK(doc["active"][2]["received"] == 10);
    CHECK(doc["active"][2]["total"] == 100);
    CHECK(doc["active"][2]["state"] == "receiving");
    CHECK(doc["active"][2]["target"] == "/uploads/{A}.bin");
    REQUIRE(doc["finished"].size() == 2);
    CHECK(doc["finished"][0]["id"] == "{B}");
    CHECK(doc["finished"][0]["state"] == "closed");
    CHECK(doc["finished"][1]["id"] == "{D}");
}

TEST_CASE("/api/sessions keeps at most finished_limit finished sessions", "[server][admin]") {
    std::vector<storage::session_info> sessions;
    for (int i = 0; i < 120; ++i) {
        sessions.push_back(session("{" + std::to_string(i) + "}", storage::session_state::closed, 1, 1, i));
    }
    const auto doc = json::parse(server::sessions_json(sessions, 0));
    CHECK(doc["finished"].size() == server::finished_limit);
    CHECK(doc["finished"][0]["id"] == "{119}");
    CHECK(doc["counts"]["closed"] == 120);
}

TEST_CASE("/api/recent is valid JSON whatever the client sent", "[server][admin]") {
    server::recent_request r;
    r.time_unix = 5;
    r.client = "127.0.0.1:4000";
    r.method = "BITS_POST";
    r.target = "/uploads/\xff\"<script>";
    r.session_id = "{X}\n";
    r.status = 500;
    r.error = "0x8020001F";
    const auto doc = json::parse(server::recent_json({r}));
    REQUIRE(doc["recent"].size() == 1);
    CHECK(doc["recent"][0]["status"] == 500);
    CHECK(doc["recent"][0]["error"] == "0x8020001F");
    CHECK(doc["recent"][0]["session_id"] == "{X}\n");
    CHECK(doc["recent"][0]["target"] == "/uploads/\xEF\xBF\xBD\"<script>");
}

TEST_CASE("/api/sessions counts the deliveries owed and dead-lettered", "[server][admin][delivery]") {
    using storage::delivery_state;
    using storage::session_state;
    std::vector<storage::session_info> sessions;
    for (auto state : {delivery_state::none, delivery_state::finalised, delivery_state::delivering,
                       delivery_state::delivered, delivery_state::dead_lettered, delivery_state::dead_lettered}) {
        sessions.push_back(session("{" + std::to_string(sessions.size()) + "}", session_state::receiving, 1, 1, 2000));
        sessions.back().metadata.delivery.state = state;
    }
    const auto doc = json::parse(server::sessions_json(sessions, 4000));
    CHECK(doc["deliveries"]["owed"] == 2);
    CHECK(doc["deliveries"]["dead_lettered"] == 2);
}

TEST_CASE("admin Host: the listener's address, localhost on loopback, configured names", "[server][admin]") {
    using boost::asio::ip::make_address;
    const server::admin_hosts loopback{make_address("127.0.0.1"), {"bitsd-admin.internal"}};
    for (const char* host : {"127.0.0.1", "127.0.0.1:9090", "127.0.0.1:1", "localhost", "localhost:9090",
                             "LocalHost:9090", "bitsd-admin.internal", "BITSD-Admin.Internal:443"}) {
        INFO(host);
        CHECK(server::admin_host_allowed(host, loopback));
    }
    // Rebinding names, other addresses, and what is no host at all.
    for (const char* host : {"evil.example", "evil.example:9090", "127.0.0.1.evil.example", "localhost.evil.example",
                             "bitsd-admin.internal.evil.example", "127.0.0.2", "[::1]", "[::1]:9090", "0x7f.0.0.1",
                             "2130706433", "", ":9090", "127.0.0.1:", "127.0.0.1:90900", "127.0.0.1:a",
                             "127.0.0.1:80:80", "[127.0.0.1]", "[::1", "[::1]x", "evil.example@127.0.0.1",
                             "localhost.", "*"}) {
        INFO(host);
        CHECK_FALSE(server::admin_host_allowed(host, loopback));
    }
    const server::admin_hosts v6{make_address("::1"), {}};
    CHECK(server::admin_host_allowed("[::1]:9090", v6));
    CHECK(server::admin_host_allowed("localhost", v6));
    CHECK_FALSE(server::admin_host_allowed("127.0.0.1", v6));
    // A listener on another address answers its own address, not localhost.
    const server::admin_hosts lan{make_address("192.0.2.10"), {}};
    CHECK(server::admin_host_allowed("192.0.2.10:9090", lan));
    CHECK_FALSE(server::admin_host_allowed("localhost:9090", lan));
    CHECK_FALSE(server::admin_host_allowed("192.0.2.11", lan));
}

TEST_CASE("admin Host: a wildcard listener answers every IP literal, names from the list only", "[server][admin]") {
    using boost::asio::ip::make_address;
    for (const char* wildcard : {"0.0.0.0", "::"}) {
        INFO(wildcard);
        const server::admin_hosts any{make_address(wildcard), {"status.example.org"}};
        for (const char* host : {"10.1.2.3:9090", "192.0.2.7", "[2001:db8::7]:9090", "[::1]", "localhost:9090",
                                 "status.example.org:9090"}) {
            INFO(host);
            CHECK(server::admin_host_allowed(host, any));
        }
        for (const char* host : {"evil.example", "evil.example:9090", "example.org", "status.example.org.evil",
                                 "[evil.example]"}) {
            INFO(host);
            CHECK_FALSE(server::admin_host_allowed(host, any));
        }
    }
}
