#pragma once
// The few operating-system file calls the filesystem store needs that std::filesystem does not
// offer: appending, syncing data and directories, no-replace renames, stat with mtime, and
// names resolved beneath an open directory without following symbolic links. Kept in one place
// so a Windows counterpart (FlushFileBuffers, MoveFileEx without REPLACE_EXISTING, NtCreateFile
// relative to a directory handle with FILE_OPEN_REPARSE_POINT) can sit beside
// platform_file_posix.cpp.
//
// Every function reports failures as std::error_code (system_category for OS errors) and never
// throws, except that building a native path string may throw std::bad_alloc.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace bitsd::storage::platform {

// An open file, closed by the destructor (errors at that point are lost; call close() to see
// them where they matter, e.g. before renaming a freshly written file into place).
class file_handle {
public:
#ifdef _WIN32
    using native_type = std::intptr_t;  // a HANDLE; -1 is INVALID_HANDLE_VALUE
#else
    using native_type = int;  // a file descriptor
#endif
    file_handle() noexcept = default;
    explicit file_handle(native_type fd) noexcept : fd_(fd) {}
#ifdef _WIN32
    // Windows has no openat(2): a directory's handle keeps its path, and the *_at calls reach
    // names by that path while the handle (opened without FILE_SHARE_DELETE) keeps the
    // directory from being renamed, deleted or replaced by a link underneath.
    file_handle(native_type handle, std::filesystem::path path) noexcept
        : fd_(handle), path_(std::move(path)) {}
    const std::filesystem::path& path() const noexcept { return path_; }
#endif
    ~file_handle();
    file_handle(file_handle&& other) noexcept;
    file_handle& operator=(file_handle&& other) noexcept;
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;

    bool is_open() const noexcept { return fd_ != -1; }
    native_type native() const noexcept { return fd_; }
    std::error_code close() noexcept;

private:
    native_type fd_ = -1;
#ifdef _WIN32
    std::filesystem::path path_;
#endif
};

enum class open_mode {
    read,             // existing file, read only
    append,           // write at the end; created empty if missing
    create_new,       // write; fails with file_exists if the name is taken
    create_truncate,  // write; created or emptied
};

// Never follows a symbolic link at the final name (O_NOFOLLOW: errc::too_many_symbolic_link_levels):
// a link planted where a session file or a destination belongs must not redirect the write.
file_handle open_file(const std::filesystem::path& path, open_mode mode, std::error_code& ec);

// A name relative to an open directory, for the *_at calls below. `dir` null means "relative
// to the working directory", i.e. `name` is used as an ordinary path.
// A name given as a std::string is UTF-8 (URL segments are): converted with u8path, so Windows
// sees the same characters (a plain std::filesystem::path(std::string) uses the ANSI code page
// there).
struct at {
    at(const file_handle* d, const std::filesystem::path& n) : dir(d), name(n) {}
    at(const file_handle* d, const std::string& n) : dir(d), name(std::filesystem::u8path(n)) {}
    at(const file_handle* d, const char* n) : dir(d), name(std::filesystem::u8path(n)) {}

    const file_handle* dir;
    std::filesystem::path name;
};

// open_file relative to a directory; the final name is never followed either.
file_handle open_file(at where, open_mode mode, std::error_code& ec);

// Opens a directory (following links: used for trusted roots such as a configured
// destination_dir).
file_handle open_directory(const std::filesystem::path& path, std::error_code& ec);

// How open_directory_beneath resolves: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
// where the kernel has it, one O_NOFOLLOW | O_DIRECTORY openat per name otherwise (and always
// with `per_name`, which tests use to exercise the fallback).
enum class resolution { automatic, per_name };

// Opens the directory `names` (each one plain name: no '/', not "." or "..") beneath `root`
// without following a symbolic link anywhere and without leaving `root`. No names opens `root`
// again. Errors: errc::too_many_symbolic_link_levels when a name is a symbolic link,
// errc::not_a_directory when it is something else than a directory, no_such_file_or_directory
// when it is missing.
file_handle open_directory_beneath(const file_handle& root, const std::vector<std::string>& names,
                                   std::error_code& ec, resolution how = resolution::automatic);

// mkdir(2) of one name in a directory (0777 and the umask). errc::file_exists if the name is taken.
std::error_code make_directory(at where) noexcept;

// What a name in a directory is, without following it.
enum class entry_type { missing, regular, directory, symlink, other };
std::error_code type_of(at where, entry_type& out) noexcept;

// Writes all `size` bytes, resuming after partial writes and EINTR. `written` counts the bytes
// that did reach the file, also on failure. ENOSPC/EDQUOT come back as storage_errc::disk_full.
std::error_code write_all(file_handle& file, const void* data, std::size_t size,
                          std::size_t& written) noexcept;

// Reads up to `size` bytes (fewer at the end of the file; 0 means end of file).
std::size_t read_some(file_handle& file, void* data, std::size_t size, std::error_code& ec) noexcept;

// fdatasync: the bytes and the length, not necessarily the timestamps.
std::error_code sync_data(file_handle& file) noexcept;
// Takes an exclusive advisory lock on the whole file without waiting (flock; LockFileEx on
// Windows): storage_errc::store_in_use when another open file holds it. Released when the file
// is closed, also by the kernel when the process dies.
std::error_code lock_exclusive(file_handle& file) noexcept;
// Cuts the file to `size` bytes (used to drop bytes whose sync failed).
std::error_code truncate_file(file_handle& file, std::uint64_t size) noexcept;
// fsync: everything about the file.
std::error_code sync_all(file_handle& file) noexcept;
// Makes the directory's entries (created, renamed, removed names) durable.
std::error_code sync_directory(const std::filesystem::path& dir) noexcept;
std::error_code sync_directory(const file_handle& dir) noexcept;

struct file_status {
    std::uint64_t size = 0;
    std::int64_t mtime_unix = 0;  // seconds since the epoch
    std::uint64_t device = 0;     // with `inode`: the same file under two names
    std::uint64_t inode = 0;
};
std::error_code status_of(const file_handle& file, file_status& out) noexcept;
// errc::no_such_file_or_directory when the path does not name anything. A symbolic link at the
// final name is reported as itself (lstat), never followed.
std::error_code status_of(const std::filesystem::path& path, file_status& out) noexcept;

// rename(2): replaces `to` if it exists. errc::cross_device_link when on another filesystem.
std::error_code rename_replace(const std::filesystem::path& from,
                               const std::filesystem::path& to) noexcept;

// Moves `from` to `to` only if `to` does not exist: errc::file_exists otherwise, and `from`
// stays. renameat2(RENAME_NOREPLACE) where the kernel and filesystem have it, link_no_replace
// otherwise. errc::cross_device_link when on another filesystem.
std::error_code rename_no_replace(const std::filesystem::path& from,
                                  const std::filesystem::path& to) noexcept;

// The portable no-replace move: link(2) `to`, then unlink `from`. If the unlink fails the new
// name is removed again, so on error exactly `from` exists. Filesystems without hard links fall
// back to a check-then-rename, which is racy only against other writers of the destination.
std::error_code link_no_replace(const std::filesystem::path& from,
                                const std::filesystem::path& to) noexcept;

// unlink(2). errc::no_such_file_or_directory when already gone.
std::error_code remove_file(const std::filesystem::path& path) noexcept;

// The same moves and removal for names relative to open directories (no link is followed at
// either final name: rename(2) and link(2) never follow them).
std::error_code rename_replace(at from, at to) noexcept;
std::error_code rename_no_replace(at from, at to) noexcept;
std::error_code link_no_replace(at from, at to) noexcept;
std::error_code remove_file(at where) noexcept;

}  // namespace bitsd::storage::platform
