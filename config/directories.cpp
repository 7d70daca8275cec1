// prepare_directories: the one part of the config layer that touches the filesystem beyond
// reading the config file. Failing here, at start-up, beats failing on the first upload.

#include "config/config.hpp"

#include <cerrno>
#include <fstream>
#include <random>
#include <system_error>

namespace bitsd::config {

namespace {

namespace fs = std::filesystem;

std::string quote_path(const fs::path& path) { return "\"" + path.u8string() + "\""; }

// Absolute, with symlinks resolved as far as the path exists, and without a trailing
// separator, so that two spellings of one directory compare equal component by component.
fs::path normalized(const fs::path& path) {
    std::error_code ec;
    fs::path result = fs::weakly_canonical(path, ec);
    if (ec) {
        result = fs::absolute(path, ec);
        if (ec) result = path;
    }
    result = result.lexically_normal();
    if (!result.has_filename() && result.has_relative_path()) result = result.parent_path();
    return result;
}

bool is_same_or_inside(const fs::path& inner, const fs::path& outer) {
    const fs::path a = normalized(inner);
    const fs::path b = normalized(outer);
    auto ai = a.begin();
    for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
        if (ai == a.end() || *ai != *bi) return false;
    }
    return true;
}

// errno after a failed stream operation: libstdc++ (and mingw's) open files through the C
// library, which sets it; fall back to a generic I/O error when nothing did.
std::error_code last_error() {
    const int code = errno;
    return code != 0 ? std::error_code(code, std::generic_category())
                     : std::make_error_code(std::errc::io_error);
}

// Writable means "bitsd can create, write and delete a file here", which is exactly what it
// will do; permission bits alone would say nothing about read-only mounts, ACLs or quotas.
std::optional<std::string> probe_writable(const fs::path& dir) {
    std::random_device random;
    const fs::path probe = dir / (".bitsd-write-probe-" + std::to_string(random()));
    {
        errno = 0;
        std::ofstream file(probe, std::ios::binary | std::ios::trunc);
        if (!file) {
            return "cannot create a file in " + quote_path(dir) + ": " + last_error().message();
        }
        errno = 0;
        file.put('x');
        file.close();  // closed before removal: Windows refuses to delete an open file
        if (!file) {
            const auto error = last_error();
            std::error_code ignored;
            fs::remove(probe, ignored);
            return "cannot write a file in " + quote_path(dir) + ": " + error.message();
        }
    }
    std::error_code ec;
    fs::remove(probe, ec);
    if (ec) return "cannot delete a file in " + quote_path(dir) + ": " + ec.message();
    return std::nullopt;
}

// check_only: a directory that does not exist yet must be creatable: its nearest existing
// ancestor is a directory bitsd can write in (the probe file is deleted again).
std::optional<config_error> check_creatable(const fs::path& dir, const std::string& key) {
    std::error_code ec;
    fs::path ancestor = fs::absolute(dir, ec);
    if (ec) ancestor = dir;
    while (!fs::exists(ancestor, ec) && ancestor.has_relative_path()) ancestor = ancestor.parent_path();
    if (!fs::is_directory(ancestor, ec)) {
        return config_error{key + ": cannot create " + quote_path(dir) + ": " +
                            quote_path(ancestor) + " is not a directory"};
    }
    if (auto problem = probe_writable(ancestor)) {
        return config_error{key + ": cannot create " + quote_path(dir) + ": " + *problem};
    }
    return std::nullopt;
}

std::optional<config_error> prepare(const fs::path& dir, const std::string& key,
                                    directory_action action, std::vector<fs::path>* missing) {
    std::error_code ec;
    if (action == directory_action::check_only && !fs::exists(dir, ec)) {
        if (auto error = check_creatable(dir, key)) return error;
        if (missing != nullptr) missing->push_back(dir);
        return std::nullopt;
    }
    fs::create_directories(dir, ec);
    if (ec) return config_error{key + ": cannot create " + quote_path(dir) + ": " + ec.message()};
    if (!fs::is_directory(dir, ec)) {
        return config_error{key + ": " + quote_path(dir) + " is not a directory"};
    }
    if (auto problem = probe_writable(dir)) {
        return config_error{key + ": not writable: " + *problem};
    }
    return std::nullopt;
}

// Why destination `i` may not be used with data_dir, or nullopt. Clients write anything they
// like below a destination, so it must never reach what bitsd itself trusts: data_dir (equal),
// a destination that contains data_dir, or one inside data_dir's own folders (the session
// store). Any other folder inside data_dir, like the default <data_dir>/files, is a subtree of
// its own beside sessions/: nothing written there can land in the session store.
std::optional<std::string> data_dir_overlap(const fs::path& destination, const fs::path& data_dir) {
    if (is_same_or_inside(data_dir, destination)) {
        return "overlaps data_dir " + quote_path(data_dir) +
               " (it is data_dir or contains it; clients could write into bitsd's own files)";
    }
    for (const std::string_view folder : data_dir_subfolders) {
        const fs::path own = data_dir / std::string(folder);
        if (is_same_or_inside(destination, own)) {
            return "overlaps data_dir: " + quote_path(destination) + " is inside " +
                   quote_path(own) + ", where bitsd keeps its own files";
        }
    }
    return std::nullopt;
}

std::string upload_key(std::size_t i, const char* key) {
    return "uploads[" + std::to_string(i) + "]." + key;
}

// Two prefixes whose destinations nest (or are equal) share files: one prefix's uploads could
// replace, or be mistaken for, the other's. Allowed only when the outer prefix says so.
std::optional<config_error> nested_destinations(const std::vector<upload_prefix>& uploads) {
    for (std::size_t i = 0; i < uploads.size(); ++i) {
        for (std::size_t j = 0; j < uploads.size(); ++j) {
            if (i == j) continue;
            // i is the outer one when j's destination is inside (or equal to) i's.
            if (!is_same_or_inside(uploads[j].destination_dir, uploads[i].destination_dir)) continue;
            if (uploads[i].allow_nested_destination) continue;
            const bool equal = is_same_or_inside(uploads[i].destination_dir, uploads[j].destination_dir);
            return config_error{upload_key(i, "destination_dir") + ": " +
                                quote_path(uploads[i].destination_dir) +
                                (equal ? " is the same directory as " : " contains ") +
                                upload_key(j, "destination_dir") + " " +
                                quote_path(uploads[j].destination_dir) + "; set " +
                                upload_key(i, "allow_nested_destination") +
                                " to true if this is meant"};
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<config_error> prepare_directories(const settings& s, directory_action action,
                                                std::vector<fs::path>* missing) try {
    // Checked before anything is created.
    for (std::size_t i = 0; i < s.uploads.size(); ++i) {
        if (auto why = data_dir_overlap(s.uploads[i].destination_dir, s.data_dir)) {
            return config_error{upload_key(i, "destination_dir") + ": " + *why};
        }
    }
    if (auto error = nested_destinations(s.uploads)) return error;
    if (auto error = prepare(s.data_dir, "data_dir", action, missing)) return error;
    for (std::size_t i = 0; i < s.uploads.size(); ++i) {
        const std::string key = "uploads[" + std::to_string(i) + "].destination_dir";
        if (auto error = prepare(s.uploads[i].destination_dir, key, action, missing)) return error;
    }
    return std::nullopt;
} catch (const std::exception& e) {
    // std::random_device and path conversions may throw; start-up wants a message, not abort.
    return config_error{std::string("data_dir: cannot prepare directories: ") + e.what()};
}

}  // namespace bitsd::config
