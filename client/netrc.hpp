#pragma once
// Credentials from a netrc-style file (the format of ftp, curl and wget):
//   machine HOST login USER password PASS
//   default login USER password PASS
// Tokens are separated by any whitespace, so an entry may span lines; a token may be quoted
// ("a b", with \" and \\ escapes). "account" is read and ignored; a "macdef" runs to the next
// blank line. The first "machine" entry naming the host wins; "default" applies otherwise.

#include <optional>
#include <string>
#include <string_view>

namespace bitsd::client {

struct credentials {
    std::string user;
    std::string password;
};

// The entry for `host` (compared case-insensitively), or nullopt when neither a machine entry
// nor a default entry has a login.
std::optional<credentials> find_netrc_credentials(std::string_view netrc_text,
                                                  std::string_view host);

}  // namespace bitsd::client
