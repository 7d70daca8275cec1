#include "storage/destination_resolver.hpp"

#include "storage/storage_error.hpp"

#include <cerrno>

namespace bitsd::storage {
namespace {

bool is_missing(const std::error_code& ec) noexcept {
    return ec == std::errc::no_such_file_or_directory;
}

}  // namespace

platform::file_handle open_destination_parent(const destination& to, bool create, bool sync,
                                              std::error_code& ec) {
    if (!to.valid()) {
        ec = std::make_error_code(std::errc::invalid_argument);
        return {};
    }
    platform::file_handle root = platform::open_directory(to.root, ec);
    if (ec && is_missing(ec) && create) {
        // The root is configuration (prepared at start-up); recreate it if it went away.
        std::filesystem::create_directories(to.root, ec);
        if (ec) return {};
        root = platform::open_directory(to.root, ec);
    }
    if (ec) return {};
    const std::vector<std::string> parents(to.names.begin(), to.names.end() - 1);
    platform::file_handle parent = platform::open_directory_beneath(root, parents, ec);
    if (!ec || !is_missing(ec) || !create) return parent;

    // Some directories are missing: make them one name at a time, each opened without
    // following a link (a link planted between mkdir and open is refused, not followed).
    platform::file_handle current = platform::open_directory_beneath(root, {}, ec);
    if (ec) return {};
    for (const auto& name : parents) {
        platform::file_handle next = platform::open_directory_beneath(current, {name}, ec);
        if (ec && is_missing(ec)) {
            ec = platform::make_directory(platform::at{&current, name});
            if (!ec && sync) ec = platform::sync_directory(current);
            if (ec && ec != std::errc::file_exists) return {};  // taken meanwhile: open it
            next = platform::open_directory_beneath(current, {name}, ec);
        }
        if (ec) return {};
        current = std::move(next);
    }
    return current;
}

std::error_code check_final_name(const platform::file_handle& parent, const std::string& name,
                                 bool& exists) {
    exists = false;
    platform::entry_type type = platform::entry_type::missing;
    if (const auto ec = platform::type_of(platform::at{&parent, name}, type)) return ec;
    switch (type) {
    case platform::entry_type::missing: return {};
    case platform::entry_type::regular: exists = true; return {};
    case platform::entry_type::symlink: return make_error_code(storage_errc::destination_symlink);
    case platform::entry_type::directory:
    case platform::entry_type::other: break;
    }
    return make_error_code(storage_errc::destination_unusable);
}

std::error_code destination_error(const std::error_code& ec) {
    if (ec.category() != std::system_category() && ec.category() != std::generic_category()) {
        return ec;
    }
    switch (ec.value()) {
    case ELOOP: return make_error_code(storage_errc::destination_symlink);
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EEXIST:
    case ENAMETOOLONG: return make_error_code(storage_errc::destination_unusable);
    default: return ec;
    }
}

std::error_code discard_temporary(const destination& to, std::string_view session_id) {
    std::error_code ec;
    platform::file_handle parent = open_destination_parent(to, false, false, ec);
    if (ec) {
        // No parent, or one we must not follow: no copy of ours can be there.
        return is_missing(ec) || destination_error(ec) != ec ? std::error_code{} : ec;
    }
    ec = platform::remove_file(platform::at{&parent, temporary_name(session_id)});
    return is_missing(ec) ? std::error_code{} : ec;
}

}  // namespace bitsd::storage
