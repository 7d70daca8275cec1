#pragma once
// Replaces a small file atomically: write a temp file beside it, fsync, rename over the old
// one, fsync the directory. A crash leaves the old content or the new one, never a mix.
// POSIX in atomic_file_posix.cpp; Windows in atomic_file_windows.cpp (FlushFileBuffers +
// MoveFileExW with MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH).

#include <filesystem>
#include <string_view>
#include <system_error>

namespace bitsd::client {

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace bitsd::client
