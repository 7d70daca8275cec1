#pragma once
// How both stores reach a destination: the directory that holds its final name, opened beneath
// the destination's root without following a symbolic link (platform::open_directory_beneath),
// missing directories created one name at a time; and the one place that names what a
// destination's path-shape failures mean.

#include "storage/destination.hpp"
#include "storage/platform_file.hpp"

#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::storage {

// Opens the directory holding `to`'s final name. With `create`, missing directories (the root
// included) are made, each new name synced into its parent when `sync` is set. Raw errors
// (no_such_file_or_directory without `create`, too_many_symbolic_link_levels, not_a_directory,
// ...): pass them through destination_error() before answering with them.
platform::file_handle open_destination_parent(const destination& to, bool create, bool sync,
                                              std::error_code& ec);

// The final name as a commit uses it: destination_symlink for a symbolic link,
// destination_unusable for a directory or anything else that is not a regular file. `exists`
// tells whether a regular file is there.
std::error_code check_final_name(const platform::file_handle& parent, const std::string& name,
                                 bool& exists);

// Names the failures that come from the shape of the destination path rather than from the
// filesystem's health: a symbolic link (ELOOP) is destination_symlink; a parent that is a file
// (ENOTDIR), a directory at the name (EISDIR, ENOTEMPTY, EEXIST), a name too long
// (ENAMETOOLONG) are destination_unusable. Anything else comes back unchanged.
std::error_code destination_error(const std::error_code& ec);

// Deletes the session's temporary copy beside `to`, if any (a crash or a failure mid-copy).
// Missing parents or copy: nothing to do. Never follows a link on the way.
std::error_code discard_temporary(const destination& to, std::string_view session_id);

}  // namespace bitsd::storage
