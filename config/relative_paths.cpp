#include "config/relative_paths.hpp"

#include <system_error>

namespace bitsd::config {

namespace {

void anchor(std::filesystem::path& path, const std::filesystem::path& base) {
    if (path.is_relative()) path = (base / path).lexically_normal();
}

}  // namespace

void anchor_relative_paths(settings& s, const std::filesystem::path& config_dir,
                           const paths_from_file& from_file) {
    std::error_code ec;
    // "bitsd.json" has an empty parent: the working directory.
    const std::filesystem::path dir = config_dir.empty() ? std::filesystem::path(".") : config_dir;
    std::filesystem::path base = std::filesystem::absolute(dir, ec);
    if (ec) base = dir;
    if (from_file.data_dir) anchor(s.data_dir, base);
    // TLS files only come from the file (BITSD_LISTEN and --listen take plain endpoints).
    for (auto& endpoint : s.listen) {
        if (!endpoint.tls) continue;
        anchor(endpoint.tls->cert, base);
        anchor(endpoint.tls->key, base);
    }
    if (from_file.uploads) {
        for (auto& upload : s.uploads) {
            anchor(upload.destination_dir, base);
            // "users.passwd" beside /etc/bitsd/bitsd.json; empty means none is set.
            if (!upload.auth.credentials_file.empty()) anchor(upload.auth.credentials_file, base);
        }
    }
}

}  // namespace bitsd::config
