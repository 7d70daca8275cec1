#include "storage/filesystem_appender.hpp"

#include <utility>

namespace bitsd::storage {

filesystem_appender::filesystem_appender(platform::file_handle file, std::uint64_t offset,
                                         fsync_policy policy) noexcept
    : file_(std::move(file)), start_offset_(offset), offset_(offset), policy_(policy) {}

filesystem_appender::~filesystem_appender() {
    if (dirty_ && policy_ == fsync_policy::durable) (void)sync_or_cut();
    // file_ closes itself; the descriptor must be gone before the session can be moved or
    // removed on platforms that refuse to rename open files.
}

std::error_code filesystem_appender::write(const void* data, std::size_t size) {
    if (failure_) return failure_;
    if (size == 0) return {};
    std::size_t written = 0;
    const std::error_code ec = platform::write_all(file_, data, size, written);
    offset_ += written;
    if (written > 0) dirty_ = true;
    if (ec) failure_ = ec;
    return ec;
}

std::error_code filesystem_appender::finish() {
    // Sync even after a failed write: the bytes that did land count as received from now on.
    if (dirty_ && policy_ == fsync_policy::durable) {
        const std::error_code ec = sync_or_cut();
        if (ec) {
            if (!failure_) failure_ = ec;
            return failure_;
        }
    }
    dirty_ = false;
    return failure_;
}

std::error_code filesystem_appender::sync_or_cut() {
    const std::error_code ec = platform::sync_data(file_);
    if (!ec) return {};
    if (!platform::truncate_file(file_, start_offset_)) {
        offset_ = start_offset_;
        dirty_ = false;
    }
    return ec;
}

}  // namespace bitsd::storage
