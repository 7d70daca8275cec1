#include "server/descriptor_budget.hpp"

#include <algorithm>

namespace bitsd::server {
namespace {

constexpr std::uint64_t per_upload_connection = 2;

std::string lowered(const char* key, std::uint64_t configured, std::uint64_t needs, std::uint64_t file_limit,
                    std::uint64_t used) {
    return std::string("limits.") + key + ": " + std::to_string(configured) + " connections need up to " +
           std::to_string(needs) + " file descriptors but the open-files limit (RLIMIT_NOFILE) is " +
           std::to_string(file_limit) + ": using " + std::to_string(used) +
           "; raise the limit (LimitNOFILE= in the systemd unit, docker run --ulimit nofile=N) or lower the key";
}

}  // namespace

std::uint64_t reserved_descriptors(unsigned io_threads, unsigned blocking_threads) noexcept {
    // 96 for the daemon's own files and back-end connections, 4 per I/O context (its reactor
    // and a spare), 4 per blocking thread (two pools, up to two files each).
    return 96 + 4ull * io_threads + 4ull * blocking_threads;
}

descriptor_budget fit_to_file_limit(std::uint64_t max_connections, std::uint64_t max_admin_connections,
                                    std::uint64_t file_limit, unsigned io_threads, unsigned blocking_threads) {
    descriptor_budget budget{max_connections, max_admin_connections, {}};
    const std::uint64_t reserved = reserved_descriptors(io_threads, blocking_threads);
    const std::uint64_t available = file_limit > reserved ? file_limit - reserved : 0;
    // The admin listener may take at most half of what is left.
    if (max_admin_connections > available / 2) {
        budget.max_admin_connections = std::max<std::uint64_t>(1, available / 2);
        budget.warnings.push_back(lowered("max_admin_connections", max_admin_connections,
                                          reserved + max_admin_connections, file_limit,
                                          budget.max_admin_connections));
    }
    const std::uint64_t room = available - std::min(available, budget.max_admin_connections);
    if (max_connections > room / per_upload_connection) {
        budget.max_connections = std::max<std::uint64_t>(1, room / per_upload_connection);
        budget.warnings.push_back(lowered("max_connections", max_connections,
                                          reserved + budget.max_admin_connections +
                                              per_upload_connection * max_connections,
                                          file_limit, budget.max_connections));
    }
    return budget;
}

}  // namespace bitsd::server
