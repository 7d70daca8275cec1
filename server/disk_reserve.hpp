#pragma once
// The free space and free inodes bitsd keeps in reserve on data_dir's file system
// (limits.min_free_disk_bytes, limits.min_free_inodes). Below either, new sessions and fragments
// are refused with a transient answer (low_on_space, 503 + Retry-After) before anything is
// written, so a filling disk slows uploads down instead of failing them halfway, and the space
// left serves commits, Cancel-Session and the sessions' metadata.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <system_error>

namespace bitsd::server {

class disk_reserve {
public:
    disk_reserve(std::filesystem::path where, std::uint64_t min_free_bytes, std::uint64_t min_free_inodes);

    // {} when there is room; low_on_space when either reserve is reached. A file system that
    // cannot be asked (or reports no inode count, as btrfs) is not refused for it.
    std::error_code check() const;

private:
    std::filesystem::path where_;
    std::uint64_t min_free_bytes_;
    std::uint64_t min_free_inodes_;
    mutable std::atomic<std::int64_t> last_warning_s_{0};  // one warning a minute, not per request
};

}  // namespace bitsd::server
