// Windows counterpart of atomic_file_posix.cpp: the temp file is flushed (FlushFileBuffers)
// and closed before MoveFileExW replaces the state file; MOVEFILE_WRITE_THROUGH returns only
// once the rename is on disk, which is what the directory fsync does on POSIX.
#include "client/atomic_file.hpp"

#include <boost/system/error_code.hpp>

#include <windows.h>

namespace bitsd::client {
namespace {

std::error_code last_error() {
    return boost::system::error_code(static_cast<int>(::GetLastError()), boost::system::system_category());
}

std::error_code write_all(HANDLE file, std::string_view content) {
    while (!content.empty()) {
        DWORD n = 0;
        const auto chunk = static_cast<DWORD>(std::min<std::size_t>(content.size(), 1u << 30));
        if (!::WriteFile(file, content.data(), chunk, &n, nullptr)) return last_error();
        content.remove_prefix(n);
    }
    return {};
}

}  // namespace

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content) {
    auto temp = path;
    temp += ".tmp";
    // Not shared while written; the file inherits the folder's ACL (the state names a session
    // that whoever can read it could continue or cancel: keep state files in private folders).
    HANDLE file = ::CreateFileW(temp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                                FILE_ATTRIBUTE_NORMAL, nullptr);
    if (file == INVALID_HANDLE_VALUE) return last_error();
    auto error = write_all(file, content);
    if (!error && !::FlushFileBuffers(file)) error = last_error();
    if (!::CloseHandle(file) && !error) error = last_error();  // closed before the rename
    if (!error && !::MoveFileExW(temp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        error = last_error();
    }
    if (error) {
        ::DeleteFileW(temp.c_str());
        return error;
    }
    return {};
}

}  // namespace bitsd::client
