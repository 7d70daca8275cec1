#include "server/disk_reserve.hpp"

#include "protocol/bits_error.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#if !defined(_WIN32)
#include <sys/statvfs.h>
#endif

namespace bitsd::server {

disk_reserve::disk_reserve(std::filesystem::path where, std::uint64_t min_free_bytes,
                           std::uint64_t min_free_inodes)
    : where_(std::move(where)), min_free_bytes_(min_free_bytes), min_free_inodes_(min_free_inodes) {}

std::error_code disk_reserve::check() const {
    if (min_free_bytes_ == 0 && min_free_inodes_ == 0) return {};
#if !defined(_WIN32)
    struct statvfs fs {};
    if (::statvfs(where_.c_str(), &fs) != 0) return {};  // the store reports real failures itself
    // What an unprivileged process may use: f_bavail, not f_bfree (root's reserve is not ours).
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    const bool inodes_known = fs.f_files != 0;
    const std::uint64_t free_inodes = fs.f_favail;
#else
    std::error_code ec;
    const auto space = std::filesystem::space(where_, ec);
    if (ec) return {};
    const std::uint64_t free_bytes = space.available;
    const bool inodes_known = false;
    const std::uint64_t free_inodes = 0;
#endif
    if (free_bytes < min_free_bytes_ || (inodes_known && free_inodes < min_free_inodes_)) {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now().time_since_epoch()).count();
        auto last = last_warning_s_.load();
        if (now - last >= 60 && last_warning_s_.compare_exchange_strong(last, now)) {
            spdlog::warn("data_dir is low on space ({} bytes, {} inodes free; limits keep {} bytes, "
                         "{} inodes): refusing new sessions and fragments with 503",
                         free_bytes, inodes_known ? std::to_string(free_inodes) : "?",
                         min_free_bytes_, min_free_inodes_);
        }
        return protocol::bits_errc::low_on_space;
    }
    return {};
}

}  // namespace bitsd::server
