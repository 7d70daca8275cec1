#pragma once
// The "auth" object of an uploads entry: who may upload under the prefix (issue 9).

#include <filesystem>
#include <string>
#include <vector>

namespace bitsd::config {

enum class auth_type { none, basic, trusted_header };

struct auth_settings {
    auth_type type = auth_type::none;
    // basic: "user:crypt(3) hash" lines (yescrypt, sha512-crypt, ...; `bitsd passwd` writes them).
    std::filesystem::path credentials_file;
    std::string realm = "BITS uploads";  // basic: the WWW-Authenticate realm
    // Basic sends the password readable by anyone on the path; bitsd has no TLS listener yet,
    // so Basic needs this set, for deployments behind a TLS-terminating proxy.
    bool allow_basic_without_tls = false;
    // trusted-header: the user comes from this header, believed only from these networks.
    std::string header = "X-Remote-User";
    std::vector<std::string> trusted_proxies;  // CIDR ("10.0.0.0/8") or single addresses
};

}  // namespace bitsd::config
