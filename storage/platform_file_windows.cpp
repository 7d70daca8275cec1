// Windows implementation of platform_file.hpp (the mingw-w64 build; platform_file_posix.cpp is
// the other side). Every name goes through the wide-character (W) calls, so UTF-8 names reach
// the file system as the characters they are.
//
// What differs from POSIX, and how the contract is kept:
// - No openat(2). A directory handle keeps its path (file_handle::path) and is opened without
//   FILE_SHARE_DELETE, so while bitsd holds it nobody can rename or delete it or swap a link in
//   its place; names beneath it are then reached by that path.
// - No O_NOFOLLOW. Every open passes FILE_FLAG_OPEN_REPARSE_POINT (the link itself is opened,
//   never its target) and refuses what it opened if it is a reparse point (a symbolic link, a
//   junction, a mount point): errc::too_many_symbolic_link_levels, as ELOOP on Linux.
// - No fdatasync or directory fsync. FlushFileBuffers flushes a file's data and metadata;
//   renames are made durable by MOVEFILE_WRITE_THROUGH (NTFS journals directory entries), so
//   sync_directory has nothing left to do.
// - A file open without FILE_SHARE_DELETE cannot be renamed or removed, and a removed file that
//   is still open keeps its name until it is closed: the store closes files before it renames
//   or removes them. bitsd's own handles share delete, so its own work never trips on them.
// - Errors: the Win32 codes the store reacts to are mapped to their errno meaning
//   (generic_category), so `ec == std::errc::file_exists` and the switch in
//   destination_error() hold on both platforms; the rest keep their Win32 code and message.
#ifdef _WIN32

#include "storage/platform_file.hpp"

#include "storage/storage_error.hpp"

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cerrno>

#include <windows.h>

namespace bitsd::storage::platform {
namespace {

std::error_code from_win32(DWORD error) noexcept {
    int posix = 0;
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH: posix = ENOENT; break;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS: posix = EEXIST; break;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_WRITE_PROTECT: posix = EACCES; break;
    case ERROR_DIRECTORY: posix = ENOTDIR; break;
    case ERROR_DIR_NOT_EMPTY: posix = ENOTEMPTY; break;
    case ERROR_NOT_SAME_DEVICE: posix = EXDEV; break;
    case ERROR_FILENAME_EXCED_RANGE: posix = ENAMETOOLONG; break;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER: posix = EINVAL; break;
    case ERROR_CANT_RESOLVE_FILENAME:
    case ERROR_CANT_ACCESS_FILE: posix = ELOOP; break;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: posix = ENOMEM; break;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL: return make_error_code(storage_errc::disk_full);
    case ERROR_LOCK_VIOLATION: return make_error_code(storage_errc::store_in_use);
    default: break;
    }
    if (posix != 0) return std::error_code(posix, std::generic_category());
    // Boost's system category formats the Win32 message and maps it to std::errc where it can.
    return boost::system::error_code(static_cast<int>(error), boost::system::system_category());
}

std::error_code last_error() noexcept { return from_win32(::GetLastError()); }

std::error_code posix_error(int error) noexcept { return std::error_code(error, std::generic_category()); }

HANDLE handle_of(const file_handle& file) noexcept { return reinterpret_cast<HANDLE>(file.native()); }

std::filesystem::path full_path(at where) {
    if (where.dir == nullptr) return where.name;
    return where.dir->path() / where.name;
}

// A single ReadFile/WriteFile moves at most a DWORD of bytes; stay well below it.
constexpr std::size_t max_io_chunk = std::size_t{1} << 30;

constexpr DWORD share_all = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
// Directories: everyone may read and add entries, nobody may move or delete them while open.
constexpr DWORD share_directory = FILE_SHARE_READ | FILE_SHARE_WRITE;

bool is_reparse_point(HANDLE h, bool& directory, std::error_code& ec) noexcept {
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h, &info)) {
        ec = last_error();
        return false;
    }
    ec.clear();
    directory = (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    return (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}

// Opens a directory by path. `follow`: a configured root may itself be a link (configuration);
// every name beneath it must not.
file_handle open_directory_path(const std::filesystem::path& path, bool follow, std::error_code& ec) {
    DWORD flags = FILE_FLAG_BACKUP_SEMANTICS;  // what lets CreateFile open a directory at all
    if (!follow) flags |= FILE_FLAG_OPEN_REPARSE_POINT;
    const std::filesystem::path target = path.empty() ? std::filesystem::path(L".") : path;
    HANDLE h = ::CreateFileW(target.c_str(), FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                             share_directory, nullptr, OPEN_EXISTING, flags, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        ec = last_error();
        return file_handle{};
    }
    file_handle handle{reinterpret_cast<file_handle::native_type>(h), std::filesystem::absolute(target, ec)};
    if (ec) return file_handle{};
    bool directory = false;
    const bool link = is_reparse_point(h, directory, ec);
    if (ec) return file_handle{};
    if (link && !follow) {
        ec = std::make_error_code(std::errc::too_many_symbolic_link_levels);
        return file_handle{};
    }
    if (!directory) {
        ec = std::make_error_code(std::errc::not_a_directory);
        return file_handle{};
    }
    return handle;
}

// One name, as open_directory_beneath expects it: never a path, never a way up, never a drive
// or an alternate data stream.
bool is_plain_name(const std::string& name) noexcept {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string_view("/\\:\0", 4)) == std::string::npos;
}

}  // namespace

file_handle::~file_handle() { (void)close(); }

file_handle::file_handle(file_handle&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

file_handle& file_handle::operator=(file_handle&& other) noexcept {
    if (this != &other) {
        (void)close();
        fd_ = other.fd_;
        path_ = std::move(other.path_);
        other.fd_ = -1;
    }
    return *this;
}

std::error_code file_handle::close() noexcept {
    if (fd_ == -1) return {};
    HANDLE h = reinterpret_cast<HANDLE>(fd_);
    fd_ = -1;
    path_.clear();
    if (!::CloseHandle(h)) return last_error();
    return {};
}

file_handle open_file(const std::filesystem::path& path, open_mode mode, std::error_code& ec) {
    return open_file(at{nullptr, path}, mode, ec);
}

file_handle open_file(at where, open_mode mode, std::error_code& ec) {
    DWORD access = GENERIC_READ;
    DWORD disposition = OPEN_EXISTING;
    switch (mode) {
    case open_mode::read: break;
    // Writes always go to the end of the file (write_all), so append needs no FILE_APPEND_DATA
    // and can still be truncated.
    case open_mode::append: access |= GENERIC_WRITE; disposition = OPEN_ALWAYS; break;
    case open_mode::create_new: access |= GENERIC_WRITE; disposition = CREATE_NEW; break;
    // Truncated after the check below, so a link at the name is refused, never emptied.
    case open_mode::create_truncate: access |= GENERIC_WRITE; disposition = OPEN_ALWAYS; break;
    }
    const std::filesystem::path path = full_path(where);
    HANDLE h = ::CreateFileW(path.c_str(), access, share_all, nullptr, disposition,
                             FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        const DWORD error = ::GetLastError();
        // A directory at the name: what open(2) says for writing into one.
        if (error == ERROR_ACCESS_DENIED) {
            const DWORD attributes = ::GetFileAttributesW(path.c_str());
            if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY)) {
                ec = posix_error(EISDIR);
                return file_handle{};
            }
        }
        ec = from_win32(error);
        return file_handle{};
    }
    file_handle file{reinterpret_cast<file_handle::native_type>(h), path};
    bool directory = false;
    const bool link = is_reparse_point(h, directory, ec);
    if (ec) return file_handle{};
    if (link) {
        ec = std::make_error_code(std::errc::too_many_symbolic_link_levels);
        return file_handle{};
    }
    if (mode == open_mode::create_truncate) {
        if ((ec = truncate_file(file, 0))) return file_handle{};
    }
    ec.clear();
    return file;
}

file_handle open_directory(const std::filesystem::path& path, std::error_code& ec) {
    return open_directory_path(path, true, ec);
}

file_handle open_directory_beneath(const file_handle& root, const std::vector<std::string>& names,
                                   std::error_code& ec, resolution) {
    for (const auto& name : names) {
        if (!is_plain_name(name)) {
            ec = posix_error(EINVAL);
            return file_handle{};
        }
    }
    // One name at a time, each opened (and so pinned) before the next is looked at: a link on
    // the way is refused, and nothing on the way can be swapped while it is held.
    std::vector<file_handle> held;
    held.reserve(names.size());
    file_handle current = open_directory_path(root.path(), true, ec);
    if (ec) return file_handle{};
    for (const auto& name : names) {
        file_handle next = open_directory_path(current.path() / std::filesystem::u8path(name), false, ec);
        if (ec) return file_handle{};
        held.push_back(std::move(current));
        current = std::move(next);
    }
    ec.clear();
    return current;
}

std::error_code make_directory(at where) noexcept {
    try {
        if (::CreateDirectoryW(full_path(where).c_str(), nullptr)) return {};
        return last_error();
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
}

std::error_code type_of(at where, entry_type& out) noexcept {
    try {
        // GetFileAttributes never follows a reparse point at the final name.
        const DWORD attributes = ::GetFileAttributesW(full_path(where).c_str());
        if (attributes == INVALID_FILE_ATTRIBUTES) {
            const std::error_code ec = last_error();
            if (ec != std::errc::no_such_file_or_directory) return ec;
            out = entry_type::missing;
            return {};
        }
        out = (attributes & FILE_ATTRIBUTE_REPARSE_POINT) ? entry_type::symlink
              : (attributes & FILE_ATTRIBUTE_DIRECTORY)   ? entry_type::directory
              : (attributes & FILE_ATTRIBUTE_DEVICE)      ? entry_type::other
                                                          : entry_type::regular;
        return {};
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
}

std::error_code write_all(file_handle& file, const void* data, std::size_t size,
                          std::size_t& written) noexcept {
    written = 0;
    const char* bytes = static_cast<const char*>(data);
    while (written < size) {
        const DWORD chunk = static_cast<DWORD>(std::min(size - written, max_io_chunk));
        // Offset 0xFFFFFFFF:0xFFFFFFFF writes at the end of the file, as O_APPEND does.
        OVERLAPPED at_end{};
        at_end.Offset = 0xFFFFFFFF;
        at_end.OffsetHigh = 0xFFFFFFFF;
        DWORD n = 0;
        if (!::WriteFile(handle_of(file), bytes + written, chunk, &n, &at_end)) return last_error();
        if (n == 0) return posix_error(EIO);  // no progress and no error: do not spin
        written += n;
    }
    return {};
}

std::size_t read_some(file_handle& file, void* data, std::size_t size, std::error_code& ec) noexcept {
    DWORD n = 0;
    if (!::ReadFile(handle_of(file), data, static_cast<DWORD>(std::min(size, max_io_chunk)), &n, nullptr)) {
        ec = last_error();
        return 0;
    }
    ec.clear();
    return n;
}

std::error_code lock_exclusive(file_handle& file) noexcept {
    OVERLAPPED whole{};
    if (::LockFileEx(handle_of(file), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD,
                     MAXDWORD, &whole)) {
        return {};
    }
    return last_error();  // ERROR_LOCK_VIOLATION: store_in_use
}

std::error_code sync_data(file_handle& file) noexcept { return sync_all(file); }

std::error_code truncate_file(file_handle& file, std::uint64_t size) noexcept {
    FILE_END_OF_FILE_INFO info{};
    info.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
    if (::SetFileInformationByHandle(handle_of(file), FileEndOfFileInfo, &info, sizeof info)) return {};
    return last_error();
}

std::error_code sync_all(file_handle& file) noexcept {
    if (::FlushFileBuffers(handle_of(file))) return {};
    return last_error();
}

// Directory entries are made durable by the MOVEFILE_WRITE_THROUGH of every rename and by
// NTFS's journal: there is no directory flush to call on Windows.
std::error_code sync_directory(const std::filesystem::path&) noexcept { return {}; }
std::error_code sync_directory(const file_handle&) noexcept { return {}; }

namespace {

std::int64_t unix_seconds(const FILETIME& time) noexcept {
    // FILETIME counts 100 ns intervals since 1601-01-01.
    const std::uint64_t ticks = (std::uint64_t{time.dwHighDateTime} << 32) | time.dwLowDateTime;
    constexpr std::uint64_t ticks_per_second = 10000000;
    constexpr std::int64_t seconds_1601_to_1970 = 11644473600;
    return static_cast<std::int64_t>(ticks / ticks_per_second) - seconds_1601_to_1970;
}

std::error_code status_of_handle(HANDLE h, file_status& out) noexcept {
    BY_HANDLE_FILE_INFORMATION info{};
    if (!::GetFileInformationByHandle(h, &info)) return last_error();
    out.size = (std::uint64_t{info.nFileSizeHigh} << 32) | info.nFileSizeLow;
    out.mtime_unix = unix_seconds(info.ftLastWriteTime);
    out.device = info.dwVolumeSerialNumber;
    out.inode = (std::uint64_t{info.nFileIndexHigh} << 32) | info.nFileIndexLow;
    return {};
}

}  // namespace

std::error_code status_of(const file_handle& file, file_status& out) noexcept {
    return status_of_handle(handle_of(file), out);
}

std::error_code status_of(const std::filesystem::path& path, file_status& out) noexcept {
    // Opens the name itself (a link is reported as itself, like lstat), for attributes only.
    HANDLE h = ::CreateFileW(path.c_str(), FILE_READ_ATTRIBUTES, share_all, nullptr, OPEN_EXISTING,
                             FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return last_error();
    const std::error_code ec = status_of_handle(h, out);
    ::CloseHandle(h);
    return ec;
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

namespace {

// MoveFileEx never follows a link at either name and, without MOVEFILE_COPY_ALLOWED, never
// copies across volumes (ERROR_NOT_SAME_DEVICE: cross_device_link).
std::error_code move(at from, at to, DWORD flags) noexcept {
    try {
        if (::MoveFileExW(full_path(from).c_str(), full_path(to).c_str(), flags | MOVEFILE_WRITE_THROUGH)) {
            return {};
        }
        return last_error();
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
}

}  // namespace

std::error_code rename_replace(at from, at to) noexcept {
    std::error_code ec = move(from, to, MOVEFILE_REPLACE_EXISTING);
    if (ec != std::errc::permission_denied) return ec;
    // MoveFileEx never replaces a directory; rename(2) replaces an empty one, and the store
    // relies on that (a session directory left empty by an interrupted remove). Remove the
    // empty target, then move without replacing: a directory that is not empty stays
    // (directory_not_empty), and one created in between wins (file_exists).
    try {
        const std::filesystem::path source = full_path(from);
        const std::filesystem::path target = full_path(to);
        const DWORD source_attributes = ::GetFileAttributesW(source.c_str());
        const DWORD target_attributes = ::GetFileAttributesW(target.c_str());
        const auto is_directory = [](DWORD a) {
            return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) && !(a & FILE_ATTRIBUTE_REPARSE_POINT);
        };
        if (!is_directory(source_attributes) || !is_directory(target_attributes)) return ec;
        if (!::RemoveDirectoryW(target.c_str())) return last_error();
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    return move(from, to, 0);
}

// Without MOVEFILE_REPLACE_EXISTING the move itself refuses an existing target
// (ERROR_ALREADY_EXISTS): atomic, no link-then-unlink needed. The check before it is for wine,
// whose MoveFileEx is rename(2): that "succeeds" without doing anything when both names are
// links of one file (an interrupted link+unlink commit), where Windows refuses.
std::error_code rename_no_replace(at from, at to) noexcept {
    try {
        if (::GetFileAttributesW(full_path(to).c_str()) != INVALID_FILE_ATTRIBUTES) {
            return std::make_error_code(std::errc::file_exists);
        }
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    return move(from, to, 0);
}

std::error_code link_no_replace(at from, at to) noexcept { return rename_no_replace(from, to); }

std::error_code remove_file(at where) noexcept {
    try {
        if (::DeleteFileW(full_path(where).c_str())) return {};
        return last_error();
    } catch (...) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
}

}  // namespace bitsd::storage::platform

#endif  // _WIN32
