#pragma once
// bits-upload's command line (CLI11) and the exit codes it documents in --help.

#include "client/netrc.hpp"
#include "client/url.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::client {

// Exit codes, documented in --help.
enum exit_code : int {
    exit_uploaded = 0,
    exit_usage = 2,          // usage or configuration error
    exit_local_file = 3,     // the file (or the state file, or the reply file) failed locally
    exit_refused = 4,        // the server refused the upload: a fatal error
    exit_gave_up = 5,        // gave up after retries: network or transient server errors
    exit_interrupted = 130,  // SIGINT/SIGTERM; the state is kept, run again to resume
};

struct options {
    std::string file;
    std::string url_text;
    http_url url;
    std::uint64_t fragment_size = 8ull * 1024 * 1024;
    std::optional<std::string> user;
    std::optional<std::string> password;
    std::optional<std::string> netrc;
    std::optional<std::string> reply;
    std::optional<std::string> state;
    bool cancel = false;
    unsigned retries = 10;
    std::chrono::seconds retry_max_delay{60};
    std::chrono::seconds timeout{300};
    bool quiet = false;
};

enum class options_action { run, exit_ok, exit_error };

struct parsed_options {
    options_action action = options_action::exit_error;
    options values;
    std::string output;  // --help / --version text, or the error
};

parsed_options parse_options(int argc, const char* const* argv);

// "65536", "64K", "64KiB", "8M", "8MiB", "1G" (K/M/G are powers of 1024, case-insensitive).
std::optional<std::uint64_t> parse_size(std::string_view text);

// The credentials to send: --user/--password, else the URL's user:password, else the --netrc
// entry for the URL's host; nullopt for none. `error` is set when the options are inconsistent
// or the netrc file cannot be read.
std::optional<credentials> resolve_credentials(const options& opts, std::string& error);

}  // namespace bitsd::client
