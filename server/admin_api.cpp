#include "server/admin_api.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

namespace bitsd::server {

namespace {

using json = nlohmann::json;

json session_json(const storage::session_info& info) {
    json s;
    s["id"] = info.metadata.id;
    s["target"] = info.metadata.target;
    s["state"] = storage::to_string(info.metadata.state);
    s["received"] = info.received;
    s["total"] = info.metadata.total ? json(*info.metadata.total) : json(nullptr);
    s["created"] = info.metadata.created_unix;
    s["last_activity"] = info.last_activity_unix;
    return s;
}

bool is_active(const storage::session_info& info) {
    return info.metadata.state == storage::session_state::receiving ||
           info.metadata.state == storage::session_state::committing;
}

std::string dump(const json& value) {
    // Targets and ids come from clients and need not be UTF-8: replace, never throw.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

session_counts count_sessions(const std::vector<storage::session_info>& sessions) {
    session_counts counts;
    for (const auto& info : sessions) {
        switch (info.metadata.state) {
        case storage::session_state::receiving: ++counts.receiving; break;
        case storage::session_state::committing: ++counts.committing; break;
        case storage::session_state::closed: ++counts.closed; break;
        case storage::session_state::cancelled: ++counts.cancelled; break;
        }
        switch (info.metadata.delivery.state) {
        case storage::delivery_state::finalised: ++counts.deliveries_finalised; break;
        case storage::delivery_state::delivering: ++counts.deliveries_delivering; break;
        case storage::delivery_state::dead_lettered: ++counts.deliveries_dead_lettered; break;
        default: break;
        }
    }
    return counts;
}

std::string sessions_json(const std::vector<storage::session_info>& sessions, std::int64_t now_unix) {
    std::vector<const storage::session_info*> active, finished;
    for (const auto& info : sessions) (is_active(info) ? active : finished).push_back(&info);
    const auto newest_first = [](const storage::session_info* a, const storage::session_info* b) {
        if (a->last_activity_unix != b->last_activity_unix) return a->last_activity_unix > b->last_activity_unix;
        return a->metadata.id < b->metadata.id;  // a stable order for equal times
    };
    std::sort(active.begin(), active.end(), newest_first);
    std::sort(finished.begin(), finished.end(), newest_first);
    const auto counts = count_sessions(sessions);

    json doc;
    doc["now"] = now_unix;
    doc["counts"] = {{"receiving", counts.receiving},
                     {"committing", counts.committing},
                     {"closed", counts.closed},
                     {"cancelled", counts.cancelled}};
    // Issue 7: deliveries still owed to a back-end, and those an operator must look at.
    doc["deliveries"] = {{"owed", counts.deliveries_finalised + counts.deliveries_delivering},
                         {"dead_lettered", counts.deliveries_dead_lettered}};
    doc["active"] = json::array();
    for (std::size_t i = 0; i < active.size() && i < active_limit; ++i) doc["active"].push_back(session_json(*active[i]));
    doc["finished"] = json::array();
    for (std::size_t i = 0; i < finished.size() && i < finished_limit; ++i) {
        doc["finished"].push_back(session_json(*finished[i]));
    }
    return dump(doc);
}

bool admin_host_allowed(std::string_view host, const admin_hosts& hosts) {
    std::string_view name = host;
    std::optional<std::string_view> port;
    bool bracketed = false;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        name = host.substr(1, close - 1);
        const auto rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
        }
        bracketed = true;
    } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
    }
    if (name.empty()) return false;
    if (port && (port->empty() || port->size() > 5 || port->find_first_not_of("0123456789") != std::string_view::npos ||
                 std::stoul(std::string(*port)) > 65535)) {
        return false;
    }
    const auto address_allowed = [&](const boost::asio::ip::address& address) {
        return hosts.listener.is_unspecified() || address == hosts.listener;
    };
    boost::system::error_code ec;
    if (bracketed) {
        const auto v6 = boost::asio::ip::make_address_v6(std::string(name), ec);
        return !ec && address_allowed(boost::asio::ip::address(v6));
    }
    const auto v4 = boost::asio::ip::make_address_v4(std::string(name), ec);
    if (!ec) return address_allowed(boost::asio::ip::address(v4));
    std::string lower;
    for (const char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "localhost") return hosts.listener.is_loopback() || hosts.listener.is_unspecified();
    return std::find(hosts.names.begin(), hosts.names.end(), lower) != hosts.names.end();
}

std::string recent_json(const std::vector<recent_request>& recent) {
    json doc;
    doc["recent"] = json::array();
    for (const auto& r : recent) {
        doc["recent"].push_back({{"time", r.time_unix},
                                 {"client", r.client},
                                 {"method", r.method},
                                 {"target", r.target},
                                 {"packet_type", r.packet_type},
                                 {"session_id", r.session_id},
                                 {"status", r.status},
                                 {"error", r.error}});
    }
    return dump(doc);
}

}  // namespace bitsd::server
