#pragma once
// What the admin listener answers, as text: the JSON of /api/sessions and /api/recent, the
// store's session counts for /metrics, and which Host it answers. Pure functions of their
// inputs (unit-tested); the listener gathers the inputs (the store listing runs on the blocking
// pool's admin thread).

#include "server/metrics.hpp"
#include "server/recent_requests.hpp"
#include "storage/session_record.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitsd::server {

// At most this many sessions of each kind in /api/sessions: every receiving or committing one
// up to active_limit (oldest activity last), and the most recently finished (closed or
// cancelled) up to finished_limit. A store of 100k tombstones stays a small answer.
inline constexpr std::size_t active_limit = 1000;
inline constexpr std::size_t finished_limit = 50;

session_counts count_sessions(const std::vector<storage::session_info>& sessions);

// {"now":UNIX,"counts":{...},"active":[...],"finished":[...]}; each session
// {"id","target","state","received","total"(null until known),"created","last_activity"}.
std::string sessions_json(const std::vector<storage::session_info>& sessions, std::int64_t now_unix);

// Whom the admin listener answers, told apart by Host: a browser sends the name of the page's
// origin there, so a page whose name an attacker made resolve to the admin address (DNS
// rebinding) names itself, not the admin address.
struct admin_hosts {
    boost::asio::ip::address listener;  // the admin listener's bound address (0.0.0.0 or :: too)
    std::vector<std::string> names;     // admin_allowed_hosts, lower case
};

// True when a request whose Host is `host` may be answered: an IP literal (IPv6 in brackets)
// that is the listener's address, or any IP literal when the listener binds a wildcard;
// "localhost" when the listener is loopback or a wildcard; one of `names`. Names compare
// without case; a port is allowed and never compared (a published or tunnelled port differs
// from the bound one).
bool admin_host_allowed(std::string_view host, const admin_hosts& hosts);

// {"recent":[{"time","client","method","target","packet_type","session_id","status","error"}]}
std::string recent_json(const std::vector<recent_request>& recent);

}  // namespace bitsd::server
