#pragma once
// What the admin listener answers, as text: the JSON of /api/sessions and /api/recent and the
// store's session counts for /metrics. Pure functions of their inputs (unit-tested); the
// listener gathers the inputs (the store listing runs on the blocking pool).

#include "server/metrics.hpp"
#include "server/recent_requests.hpp"
#include "storage/session_record.hpp"

#include <cstdint>
#include <string>
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

// {"recent":[{"time","client","method","target","packet_type","session_id","status","error"}]}
std::string recent_json(const std::vector<recent_request>& recent);

}  // namespace bitsd::server
