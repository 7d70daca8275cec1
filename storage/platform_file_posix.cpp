// POSIX implementation of platform_file.hpp. A Windows build compiles its own counterpart.
#ifndef _WIN32

#include "storage/platform_file.hpp"

#include "storage/storage_error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

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

int openat_retrying(int dir, const char* path, int flags, mode_t mode) noexcept {
    int fd;
    do {
        fd = ::openat(dir, path, flags, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

int dir_fd(at where) noexcept { return where.dir ? where.dir->native() : AT_FDCWD; }

// One name, as open_directory_beneath expects it: never a path, never a way up.
bool is_plain_name(const std::string& name) noexcept {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

constexpr int directory_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

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
    return open_file(at{nullptr, path}, mode, ec);
}

file_handle open_file(at where, open_mode mode, std::error_code& ec) {
    int flags = O_CLOEXEC | O_NOFOLLOW;
    switch (mode) {
    case open_mode::read: flags |= O_RDONLY; break;
    case open_mode::append: flags |= O_WRONLY | O_APPEND | O_CREAT; break;
    case open_mode::create_new: flags |= O_WRONLY | O_CREAT | O_EXCL; break;
    case open_mode::create_truncate: flags |= O_WRONLY | O_CREAT | O_TRUNC; break;
    }
    // 0666 and the process umask decide: delivered files must be readable by their consumers.
    const int fd = openat_retrying(dir_fd(where), where.name.c_str(), flags, 0666);
    if (fd < 0) {
        ec = last_error();
        return file_handle{};
    }
    ec.clear();
    return file_handle{fd};
}

file_handle open_directory(const std::filesystem::path& path, std::error_code& ec) {
    const int fd = open_retrying(path.empty() ? "." : path.c_str(), directory_flags, 0);
    if (fd < 0) {
        ec = last_error();
        return file_handle{};
    }
    ec.clear();
    return file_handle{fd};
}

file_handle open_directory_beneath(const file_handle& root, const std::vector<std::string>& names,
                                   std::error_code& ec, resolution how) {
    for (const auto& name : names) {
        if (!is_plain_name(name)) {
            ec = system_error_code(EINVAL);
            return file_handle{};
        }
    }
    if (names.empty()) {
        const int fd = openat_retrying(root.native(), ".", directory_flags, 0);
        ec = fd < 0 ? last_error() : std::error_code{};
        return file_handle{fd};
    }
#if defined(__linux__) && defined(SYS_openat2) && defined(RESOLVE_BENEATH)
    if (how == resolution::automatic) {
        std::string joined;
        for (const auto& name : names) {
            if (!joined.empty()) joined += '/';
            joined += name;
        }
        struct open_how request {};
        request.flags = directory_flags;
        request.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        long fd = -1;
        // EAGAIN: the kernel saw a concurrent rename and could not vouch for the walk; bounded.
        for (int attempt = 0; attempt < 8; ++attempt) {
            fd = ::syscall(SYS_openat2, root.native(), joined.c_str(), &request, sizeof request);
            if (fd >= 0 || (errno != EINTR && errno != EAGAIN)) break;
        }
        if (fd >= 0) {
            ec.clear();
            return file_handle{static_cast<int>(fd)};
        }
        // ENOSYS: a kernel before 5.6. EPERM: a seccomp filter that does not know the call
        // (older container runtimes); the per-name walk below reports any real EPERM itself.
        // ENAMETOOLONG: the joined names exceed PATH_MAX, one name at a time does not.
        if (errno != ENOSYS && errno != EPERM && errno != ENAMETOOLONG) {
            ec = last_error();
            return file_handle{};
        }
    }
#else
    (void)how;
#endif
    // One name at a time, never following a link: O_NOFOLLOW refuses a link at each name and
    // O_DIRECTORY anything that is not a directory.
    file_handle current;
    int parent = root.native();
    for (const auto& name : names) {
        const int fd = openat_retrying(parent, name.c_str(), directory_flags | O_NOFOLLOW, 0);
        if (fd < 0) {
            int error = errno;
            struct stat st {};
            // Some systems answer ENOTDIR for a link under O_DIRECTORY | O_NOFOLLOW: say ELOOP,
            // as openat2 does, so callers can tell a link from a file.
            if (error == ENOTDIR && ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode)) {
                error = ELOOP;
            }
            ec = system_error_code(error);
            return file_handle{};
        }
        current = file_handle{fd};
        parent = fd;
    }
    ec.clear();
    return current;
}

std::error_code make_directory(at where) noexcept {
    if (::mkdirat(dir_fd(where), where.name.c_str(), 0777) == 0) return {};
    return last_error();
}

std::error_code type_of(at where, entry_type& out) noexcept {
    struct stat st {};
    if (::fstatat(dir_fd(where), where.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) return last_error();
        out = entry_type::missing;
        return {};
    }
    out = S_ISREG(st.st_mode)   ? entry_type::regular
          : S_ISDIR(st.st_mode) ? entry_type::directory
          : S_ISLNK(st.st_mode) ? entry_type::symlink
                                : entry_type::other;
    return {};
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

std::error_code lock_exclusive(file_handle& file) noexcept {
    while (::flock(file.native(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return make_error_code(storage_errc::store_in_use);
        return last_error();
    }
    return {};
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
    const int fd = open_retrying(dir.empty() ? "." : dir.c_str(), directory_flags, 0);
    if (fd < 0) return last_error();
    file_handle handle{fd};
    if (const std::error_code ec = sync_directory(handle)) return ec;
    return handle.close();
}

std::error_code sync_directory(const file_handle& dir) noexcept {
    if (::fsync(dir.native()) != 0) {
        const int error = errno;
        // Some filesystems cannot fsync a directory at all; their entries are then as durable
        // as they will ever be, so this is not a failure of ours.
        if (error != EINVAL && error != ENOTSUP && error != EROFS) return system_error_code(error);
    }
    return {};
}

namespace {

file_status from_stat(const struct stat& st) noexcept {
    file_status out;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mtime_unix = static_cast<std::int64_t>(st.st_mtime);
    out.device = static_cast<std::uint64_t>(st.st_dev);
    out.inode = static_cast<std::uint64_t>(st.st_ino);
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
    if (::lstat(path.c_str(), &st) != 0) return last_error();
    out = from_stat(st);
    return {};
}

std::error_code rename_replace(const std::filesystem::path& from,
                               const std::filesystem::path& to) noexcept {
    return rename_replace(at{nullptr, from}, at{nullptr, to});
}

std::error_code rename_no_replace(const std::filesystem::path& from,
                                  const std::filesystem::path& to) noexcept {
    return rename_no_replace(at{nullptr, from}, at{nullptr, to});
}

std::error_code link_no_replace(const std::filesystem::path& from,
                                const std::filesystem::path& to) noexcept {
    return link_no_replace(at{nullptr, from}, at{nullptr, to});
}

std::error_code remove_file(const std::filesystem::path& path) noexcept {
    return remove_file(at{nullptr, path});
}

std::error_code rename_replace(at from, at to) noexcept {
    if (::renameat(dir_fd(from), from.name.c_str(), dir_fd(to), to.name.c_str()) == 0) return {};
    return last_error();
}

std::error_code rename_no_replace(at from, at to) noexcept {
#if defined(__linux__) && defined(RENAME_NOREPLACE)
    if (::renameat2(dir_fd(from), from.name.c_str(), dir_fd(to), to.name.c_str(), RENAME_NOREPLACE) == 0) {
        return {};
    }
    const int error = errno;
    // Old kernels (ENOSYS) and filesystems without the flag (EINVAL) get the portable path.
    if (error != EINVAL && error != ENOSYS && error != ENOTSUP) return system_error_code(error);
#endif
    return link_no_replace(from, to);
}

std::error_code link_no_replace(at from, at to) noexcept {
    if (::linkat(dir_fd(from), from.name.c_str(), dir_fd(to), to.name.c_str(), 0) == 0) {
        if (::unlinkat(dir_fd(from), from.name.c_str(), 0) == 0) return {};
        const int error = errno;
        // Leave one name, not two: a caller that sees an error must be able to keep using
        // `from` without its writes showing up in the delivered file.
        (void)::unlinkat(dir_fd(to), to.name.c_str(), 0);
        return system_error_code(error);
    }
    const int error = errno;
    if (error != EPERM && error != ENOTSUP && error != EOPNOTSUPP && error != ENOSYS &&
        error != EMLINK) {
        return system_error_code(error);
    }
    // No hard links here (FAT, some network filesystems): check, then rename.
    struct stat st {};
    if (::fstatat(dir_fd(to), to.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        return std::make_error_code(std::errc::file_exists);
    }
    if (errno != ENOENT) return last_error();
    return rename_replace(from, to);
}

std::error_code remove_file(at where) noexcept {
    if (::unlinkat(dir_fd(where), where.name.c_str(), 0) == 0) return {};
    return last_error();
}

}  // namespace bitsd::storage::platform

#endif  // _WIN32
