#pragma once
// Storage's own error type, made into std::error_code (the pattern of Beast's http/error.hpp).
// Operating-system failures travel as std::system_category codes; these name the cases callers
// must tell apart.

#include <system_error>

namespace bitsd::storage {

enum class storage_errc {
    session_not_found = 1,  // no such session id
    session_exists,         // create() of an id that is already stored
    offset_mismatch,        // append not at the end of the stored bytes
    destination_exists,     // commit() would overwrite and overwriting is off
    wrong_state,            // the session's state does not allow the operation
    corrupt_metadata,       // metadata unreadable; the session is skipped, never guessed
    disk_full,              // ENOSPC / EDQUOT: transient, nothing stored is lost
    destination_unusable,   // the destination cannot be a file now (a parent is a file, a
                            // directory at the name, a name too long): fatal, bytes kept
    destination_symlink,    // a symbolic link at the destination or on its way: never followed
    store_in_use,           // the data directory is locked by another store (another bitsd)
};

const std::error_category& storage_category() noexcept;
std::error_code make_error_code(storage_errc e) noexcept;

// True when ec means "out of space", whatever category it came in.
bool is_disk_full(const std::error_code& ec) noexcept;

}  // namespace bitsd::storage

namespace std {
template <>
struct is_error_code_enum<bitsd::storage::storage_errc> : true_type {};
}  // namespace std
