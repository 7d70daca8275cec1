#pragma once
// The "limits" object of the configuration: what one client, or all of them together, may cost
// the server before it says no (issue 9). Every limit is checked before work is done, and every
// refusal is transient for a Windows client (503 + Retry-After) or a closed connection.

#include <cstdint>

namespace bitsd::config {

struct abuse_limits {
    // Open connections, all clients together. Beyond it new connections are closed at once.
    std::uint64_t max_connections = 10000;
    // Open connections of one client address (an IPv6 client: its /64). 0 = no limit.
    std::uint64_t max_connections_per_client = 256;
    // Open connections to the admin listener (admin_listen). Beyond it new ones are closed at once.
    std::uint64_t max_admin_connections = 64;
    // Sessions one principal has created and not yet closed or cancelled, under all prefixes,
    // counted while bitsd runs (a restart forgets them): per user when authenticated, per
    // client address otherwise. Applies to every principal. 0 = no limit.
    std::uint64_t max_open_sessions_per_client = 1000;
    // Create-Session requests per minute and principal (per user when authenticated, per client
    // address otherwise), with bursts of as many. 0 = no limit.
    std::uint64_t create_sessions_per_minute_per_client = 600;
    // Sync deliveries in flight at once (each holds a back-end connection until it answers).
    // Beyond it, a final Fragment that would start one is answered 503 + Retry-After.
    std::uint64_t max_sync_deliveries = 64;
    // Below this many free bytes (or free inodes) on data_dir's file system, new sessions and
    // fragments are refused with 503 + Retry-After; Close-Session and Cancel-Session still run.
    std::uint64_t min_free_disk_bytes = 256ull * 1024 * 1024;
    std::uint64_t min_free_inodes = 10000;
    // Failed password checks (Basic) per minute and client address, with bursts of as many.
    // Beyond it the client's next attempts get 503 + Retry-After without a check. 0 = no limit.
    std::uint64_t auth_failures_per_minute_per_client = 30;
};

}  // namespace bitsd::config
