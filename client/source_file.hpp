#pragma once
// The file being uploaded, opened read-only. Fragments are read at their offsets (pread), so the
// upload can jump back and forth when the server resyncs. POSIX lives in source_file_posix.cpp;
// Windows in source_file_windows.cpp (ReadFile with an OVERLAPPED offset).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <system_error>

namespace bitsd::client {

struct file_identity {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;  // modification time, nanoseconds since the Unix epoch
    friend bool operator==(const file_identity& a, const file_identity& b) noexcept {
        return a.size == b.size && a.mtime_ns == b.mtime_ns;
    }
    friend bool operator!=(const file_identity& a, const file_identity& b) noexcept {
        return !(a == b);
    }
};

class source_file {
public:
    source_file() = default;
    ~source_file();
    source_file(const source_file&) = delete;
    source_file& operator=(const source_file&) = delete;

    // Opens a regular file for reading; a directory or a device is refused.
    std::error_code open(const std::filesystem::path& path);

    // Size and modification time as they are now (re-read on every call).
    std::error_code identity(file_identity& out) const;

    // Reads exactly n bytes at offset; a short read (the file shrank) is source_changed.
    std::error_code read_at(std::uint64_t offset, char* buffer, std::size_t n) const;

private:
#ifdef _WIN32
    void* handle_ = nullptr;  // a HANDLE (ReadFile at an OVERLAPPED offset): source_file_windows.cpp
#else
    int fd_ = -1;
#endif
};

}  // namespace bitsd::client
