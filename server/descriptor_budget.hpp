#pragma once
// How many connections a file-descriptor limit can hold (see file_limit.hpp). An upload
// connection may hold two descriptors (its socket, and its session's data file while a
// fragment streams), an admin connection one; the rest is kept for what the daemon holds
// whatever its connections: each I/O context's reactor (epoll, eventfd, timerfd), the blocking
// pools' files and directories (a commit holds two files), the store's lock, the logs, the
// outbox's and sync deliveries' back-end connections, the sweep, and files read on reload.
// Caps that would not fit are lowered, each with a warning naming its key.

#include <cstdint>
#include <string>
#include <vector>

namespace bitsd::server {

struct descriptor_budget {
    std::uint64_t max_connections = 0;
    std::uint64_t max_admin_connections = 0;
    std::vector<std::string> warnings;  // one per key lowered: "limits.max_connections: ..."
};

// Descriptors kept aside for the daemon itself.
std::uint64_t reserved_descriptors(unsigned io_threads, unsigned blocking_threads) noexcept;

// The caps that fit under `file_limit` (never below 1), with a warning for each one lowered.
descriptor_budget fit_to_file_limit(std::uint64_t max_connections, std::uint64_t max_admin_connections,
                                    std::uint64_t file_limit, unsigned io_threads, unsigned blocking_threads);

}  // namespace bitsd::server
