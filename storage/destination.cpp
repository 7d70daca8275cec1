#include "storage/destination.hpp"

#include "storage/destination_resolver.hpp"
#include "storage/error_guard.hpp"
#include "storage/platform_file.hpp"
#include "storage/storage_error.hpp"

namespace bitsd::storage {

std::filesystem::path destination::joined() const {
    std::filesystem::path path = root;
    for (const auto& name : names) path /= name;
    return path;
}

bool destination::valid() const noexcept {
    if (root.empty() || names.empty()) return false;
    for (const auto& name : names) {
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
            name.find('\0') != std::string::npos) {
            return false;
        }
    }
    return true;
}

std::string temporary_name(std::string_view session_id) {
    return ".bitsd-" + std::string(session_id) + ".tmp";
}

std::error_code probe_destination(const destination& to, destination_status& out) {
    return guarded([&]() -> std::error_code {
        if (!to.valid()) return std::make_error_code(std::errc::invalid_argument);
        std::error_code ec;
        platform::file_handle parent = open_destination_parent(to, false, false, ec);
        platform::entry_type type = platform::entry_type::missing;
        if (!ec) ec = platform::type_of(platform::at{&parent, to.names.back()}, type);
        if (ec == std::errc::no_such_file_or_directory) {
            out = destination_status::missing;  // a parent is missing: the commit creates it
            return {};
        }
        if (ec) {
            ec = destination_error(ec);
            if (ec == storage_errc::destination_symlink) out = destination_status::symlink;
            else if (ec == storage_errc::destination_unusable) out = destination_status::unusable;
            else return ec;
            return {};
        }
        switch (type) {
        case platform::entry_type::missing: out = destination_status::missing; break;
        case platform::entry_type::regular: out = destination_status::file; break;
        case platform::entry_type::directory: out = destination_status::directory; break;
        case platform::entry_type::symlink: out = destination_status::symlink; break;
        case platform::entry_type::other: out = destination_status::unusable; break;
        }
        return {};
    });
}

}  // namespace bitsd::storage
