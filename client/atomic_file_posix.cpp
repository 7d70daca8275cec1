#include "client/atomic_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace bitsd::client {
namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::error_code write_all(int fd, std::string_view content) {
    while (!content.empty()) {
        const auto n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content) {
    auto temp = path;
    temp += ".tmp";
    // 0600: the state names a session that anyone could otherwise continue or cancel.
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return last_error();
    auto error = write_all(fd, content);
    if (!error && ::fsync(fd) != 0) error = last_error();
    if (::close(fd) != 0 && !error) error = last_error();
    if (!error && ::rename(temp.c_str(), path.c_str()) != 0) error = last_error();
    if (error) {
        ::unlink(temp.c_str());
        return error;
    }
    auto dir = path.parent_path();
    if (dir.empty()) dir = ".";
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);  // best effort: the rename is already visible
        ::close(dir_fd);
    }
    return {};
}

}  // namespace bitsd::client
