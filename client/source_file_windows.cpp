// Windows counterpart of source_file_posix.cpp: ReadFile at an OVERLAPPED offset is pread.
#include "client/source_file.hpp"

#include "client/client_error.hpp"

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cerrno>

#include <windows.h>

namespace bitsd::client {
namespace {

std::error_code last_error() {
    return boost::system::error_code(static_cast<int>(::GetLastError()), boost::system::system_category());
}

}  // namespace

source_file::~source_file() {
    if (handle_ != nullptr) ::CloseHandle(handle_);
}

std::error_code source_file::open(const std::filesystem::path& path) {
    // Others may go on reading, writing or renaming the file (a log being appended to); a change
    // during the upload is caught by identity() as on POSIX.
    HANDLE h = ::CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                             nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h == INVALID_HANDLE_VALUE) return last_error();
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h, &info)) {
        const auto error = last_error();
        ::CloseHandle(h);
        return error;
    }
    // Only a plain file on a disk: a directory (opened thanks to BACKUP_SEMANTICS so it can be
    // told apart), a console or a pipe is refused.
    const bool directory = (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    if (directory || ::GetFileType(h) != FILE_TYPE_DISK) {
        ::CloseHandle(h);
        return {directory ? EISDIR : EINVAL, std::generic_category()};
    }
    if (handle_ != nullptr) ::CloseHandle(handle_);
    handle_ = h;
    return {};
}

std::error_code source_file::identity(file_identity& out) const {
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(handle_, &info)) return last_error();
    out.size = (std::uint64_t{info.nFileSizeHigh} << 32) | info.nFileSizeLow;
    // FILETIME: 100 ns ticks since 1601-01-01; the state file keeps nanoseconds since 1970.
    const std::uint64_t ticks =
        (std::uint64_t{info.ftLastWriteTime.dwHighDateTime} << 32) | info.ftLastWriteTime.dwLowDateTime;
    constexpr std::int64_t ticks_1601_to_1970 = 116444736000000000;
    out.mtime_ns = (static_cast<std::int64_t>(ticks) - ticks_1601_to_1970) * 100;
    return {};
}

std::error_code source_file::read_at(std::uint64_t offset, char* buffer, std::size_t n) const {
    while (n > 0) {
        OVERLAPPED at{};
        at.Offset = static_cast<DWORD>(offset);
        at.OffsetHigh = static_cast<DWORD>(offset >> 32);
        DWORD got = 0;
        const auto want = static_cast<DWORD>(std::min<std::size_t>(n, 1u << 30));
        if (!::ReadFile(handle_, buffer, want, &got, &at)) {
            if (::GetLastError() == ERROR_HANDLE_EOF) return client_errc::source_changed;
            return last_error();
        }
        if (got == 0) return client_errc::source_changed;
        buffer += got;
        n -= got;
        offset += got;
    }
    return {};
}

}  // namespace bitsd::client
