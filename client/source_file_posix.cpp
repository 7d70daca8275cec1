#include "client/source_file.hpp"

#include "client/client_error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bitsd::client {

source_file::~source_file() {
    if (fd_ >= 0) ::close(fd_);
}

std::error_code source_file::open(const std::filesystem::path& path) {
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below like any non-regular file.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return {errno, std::generic_category()};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int error = errno;
        ::close(fd);
        return {error, std::generic_category()};
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return {S_ISDIR(st.st_mode) ? EISDIR : EINVAL, std::generic_category()};
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return {};
}

std::error_code source_file::identity(file_identity& out) const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return {errno, std::generic_category()};
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                   static_cast<std::int64_t>(st.st_mtim.tv_nsec);
    return {};
}

std::error_code source_file::read_at(std::uint64_t offset, char* buffer, std::size_t n) const {
    while (n > 0) {
        const auto got = ::pread(fd_, buffer, n, static_cast<off_t>(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            return {errno, std::generic_category()};
        }
        if (got == 0) return client_errc::source_changed;
        buffer += got;
        n -= static_cast<std::size_t>(got);
        offset += static_cast<std::uint64_t>(got);
    }
    return {};
}

}  // namespace bitsd::client
