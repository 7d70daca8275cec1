#pragma once
// Where a commit lands, as a store receives it: a trusted root directory (an upload prefix's
// destination_dir, from the configuration) and the plain names beneath it. Never one joined
// path for the system calls: every name is resolved beneath the root without following a
// symbolic link, so a link planted in the destination tree cannot send a file (or an overwrite)
// anywhere else.

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace bitsd::storage {

struct destination {
    std::filesystem::path root;      // trusted: followed as configured
    std::vector<std::string> names;  // at least one; the last is the file's own name

    // root/names..., for logs and the session record (never used to open anything).
    std::filesystem::path joined() const;
    // A root, at least one name, and every name a plain one (not empty, ".", "..", no '/').
    bool valid() const noexcept;
};

// What is at a destination now, resolved the way a commit resolves it.
enum class destination_status {
    missing,    // nothing there: a commit creates it (and missing parent directories)
    file,       // a regular file: replaced only with overwrites on
    directory,  // a directory at the final name
    unusable,   // can never be a file: a parent is a file, a name is too long, not a plain file
    symlink,    // a symbolic link at the final name or on the way: never followed, refused
};

// The hidden name a cross-filesystem commit copies to beside the destination before renaming
// it into place: fixed length whatever the file's name (a 255-byte name still commits), unique
// per session (two sessions committing to one destination never share it), and found again
// from the session id alone when an abandoned copy must be cleaned up.
std::string temporary_name(std::string_view session_id);

// Looks at `to` without changing anything and without following a link. Errors are those of
// the filesystem that say nothing about the destination (EACCES, EIO, ...).
std::error_code probe_destination(const destination& to, destination_status& out);

}  // namespace bitsd::storage
