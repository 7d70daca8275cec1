#pragma once
// The filesystem store's appender: sequential writes to an O_APPEND descriptor of `data`.

#include "storage/platform_file.hpp"
#include "storage/session_store.hpp"

#include <cstddef>
#include <cstdint>
#include <system_error>

namespace bitsd::storage {

class filesystem_appender final : public appender {
public:
    filesystem_appender(platform::file_handle file, std::uint64_t offset, fsync_policy policy) noexcept;
    // Syncs bytes written but never finish()ed (durable policy): the next info() reports them
    // as received, and an Ack may then claim them, so they must be on disk too.
    ~filesystem_appender() override;

    // When a sync fails (durable policy), the bytes this appender wrote are cut off again:
    // after a failed fdatasync the kernel may drop them while the file length still counts
    // them, and the received offset is the file length.

    std::error_code write(const void* data, std::size_t size) override;
    std::error_code finish() override;
    std::uint64_t offset() const noexcept override { return offset_; }

private:
    platform::file_handle file_;
    std::uint64_t start_offset_;  // the length before this appender wrote
    std::uint64_t offset_;
    fsync_policy policy_;
    bool dirty_ = false;        // bytes written since the last sync

    std::error_code sync_or_cut();
    std::error_code failure_;   // first write failure; every later call reports it
};

}  // namespace bitsd::storage
