// POSIX implementation of platform_file.hpp. A Windows build compiles its own counterpart.
#ifndef _WIN32

#include "storage/platform_file.hpp"

#include "storage/storage_error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace bitsd::storage::platform {
namespace {

std::error_code system_error_code(int error) noexcept {
    return std::error_code(error, std::system_category());
}

std::error_code last_error() noexcept { return system_error_code(errno); }

// A single write(2)/read(2) may not exceed SSIZE_MAX; stay well below it.
constexpr std::size_t max_io_chunk = std::size_t{1} << 30;

std::error_code map_write_error(int error) noexcept {
#ifdef EDQUOT
    if (error == EDQUOT) return make_error_code(storage_errc::disk_full);
#endif
    if (error == ENOSPC) return make_error_code(storage_errc::disk_full);
    return system_error_code(error);
}

int open_retrying(const char* path, int flags, mode_t mode) noexcept {
    int fd;
    do {
        fd = ::open(path, flags, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

}  // namespace

file_handle::~file_handle() { (void)close(); }

file_handle::file_handle(file_handle&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

file_handle& file_handle::operator=(file_handle&& other) noexcept {
    if (this != &other) {
        (void)close();
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

std::error_code file_handle::close() noexcept {
    if (fd_ < 0) return {};
    const int fd = fd_;
    fd_ = -1;
    // Never retry close() on EINTR: on Linux the descriptor is gone either way.
    if (::close(fd) != 0 && errno != EINTR) return last_error();
    return {};
}

file_handle open_file(const std::filesystem::path& path, open_mode mode, std::error_code& ec) {
    int flags = O_CLOEXEC;
    switch (mode) {
    case open_mode::read: flags |= O_RDONLY; break;
    case open_mode::append: flags |= O_WRONLY | O_APPEND | O_CREAT; break;
    case open_mode::create_new: flags |= O_WRONLY | O_CREAT | O_EXCL; break;
    case open_mode::create_truncate: flags |= O_WRONLY | O_CREAT | O_TRUNC; break;
    }
    // 0666 and the process umask decide: delivered files must be readable by their consumers.
    const int fd = open_retrying(path.c_str(), flags, 0666);
    if (fd < 0) {
        ec = last_error();
        return file_handle{};
    }
    ec.clear();
    return file_handle{fd};
}

std::error_code write_all(file_handle& file, const void* data, std::size_t size,
                          std::size_t& written) noexcept {
    written = 0;
    const char* bytes = static_cast<const char*>(data);
    while (written < size) {
        const std::size_t chunk = std::min(size - written, max_io_chunk);
        const ssize_t n = ::write(file.native(), bytes + written, chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            return map_write_error(errno);
        }
        if (n == 0) return system_error_code(EIO);  // no progress and no error: do not spin
        written += static_cast<std::size_t>(n);
    }
    return {};
}

std::size_t read_some(file_handle& file, void* data, std::size_t size, std::error_code& ec) noexcept {
    for (;;) {
        const ssize_t n = ::read(file.native(), data, std::min(size, max_io_chunk));
        if (n >= 0) {
            ec.clear();
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            ec = last_error();
            return 0;
        }
    }
}

std::error_code sync_data(file_handle& file) noexcept {
#if defined(__APPLE__)
    // macOS has no fdatasync; F_FULLFSYNC is what actually reaches the platter there.
    if (::fcntl(file.native(), F_FULLFSYNC) == 0) return {};
    if (::fsync(file.native()) == 0) return {};
#else
    if (::fdatasync(file.native()) == 0) return {};
#endif
    return last_error();
}

std::error_code truncate_file(file_handle& file, std::uint64_t size) noexcept {
    for (;;) {
        if (::ftruncate(file.native(), static_cast<off_t>(size)) == 0) return {};
        if (errno != EINTR) return last_error();
    }
}

std::error_code sync_all(file_handle& file) noexcept {
    if (::fsync(file.native()) == 0) return {};
    return last_error();
}

std::error_code sync_directory(const std::filesystem::path& dir) noexcept {
    const int fd = open_retrying(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return last_error();
    file_handle handle{fd};
    if (::fsync(fd) != 0) {
        const int error = errno;
        // Some filesystems cannot fsync a directory at all; their entries are then as durable
        // as they will ever be, so this is not a failure of ours.
        if (error != EINVAL && error != ENOTSUP && error != EROFS) return system_error_code(error);
    }
    return handle.close();
}

namespace {

file_status from_stat(const struct stat& st) noexcept {
    file_status out;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mtime_unix = static_cast<std::int64_t>(st.st_mtime);
    return out;
}

}  // namespace

std::error_code status_of(const file_handle& file, file_status& out) noexcept {
    struct stat st {};
    if (::fstat(file.native(), &st) != 0) return last_error();
    out = from_stat(st);
    return {};
}

std::error_code status_of(const std::filesystem::path& path, file_status& out) noexcept {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return last_error();
    out = from_stat(st);
    return {};
}

std::error_code rename_replace(const std::filesystem::path& from,
                               const std::filesystem::path& to) noexcept {
    if (::rename(from.c_str(), to.c_str()) == 0) return {};
    return last_error();
}

std::error_code rename_no_replace(const std::filesystem::path& from,
                                  const std::filesystem::path& to) noexcept {
#if defined(__linux__) && defined(RENAME_NOREPLACE)
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    const int error = errno;
    // Old kernels (ENOSYS) and filesystems without the flag (EINVAL) get the portable path.
    if (error != EINVAL && error != ENOSYS && error != ENOTSUP) return system_error_code(error);
#endif
    return link_no_replace(from, to);
}

std::error_code link_no_replace(const std::filesystem::path& from,
                                const std::filesystem::path& to) noexcept {
    if (::link(from.c_str(), to.c_str()) == 0) {
        if (::unlink(from.c_str()) == 0) return {};
        const int error = errno;
        // Leave one name, not two: a caller that sees an error must be able to keep using
        // `from` without its writes showing up in the delivered file.
        (void)::unlink(to.c_str());
        return system_error_code(error);
    }
    const int error = errno;
    if (error != EPERM && error != ENOTSUP && error != EOPNOTSUPP && error != ENOSYS &&
        error != EMLINK) {
        return system_error_code(error);
    }
    // No hard links here (FAT, some network filesystems): check, then rename.
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) return std::make_error_code(std::errc::file_exists);
    if (errno != ENOENT) return last_error();
    return rename_replace(from, to);
}

std::error_code remove_file(const std::filesystem::path& path) noexcept {
    if (::unlink(path.c_str()) == 0) return {};
    return last_error();
}

}  // namespace bitsd::storage::platform

#endif  // _WIN32
