#pragma once
// The client's own failures (not the server's answers, not the network's errors), made into
// std::error_code like the protocol's bits_errc. The uploader maps them to exit codes.

#include <system_error>

namespace bitsd::client {

enum class client_errc {
    interrupted = 1,      // SIGINT/SIGTERM arrived: stop, keep the state file
    source_read_failed,   // the file to upload could not be read
    source_changed,       // its size or modification time changed during the upload
    response_too_large,   // a response header block beyond the limit
    reply_write_failed,   // the upload-reply could not be written locally
};

const std::error_category& client_category() noexcept;
std::error_code make_error_code(client_errc e) noexcept;

}  // namespace bitsd::client

namespace std {
template <>
struct is_error_code_enum<bitsd::client::client_errc> : true_type {};
}  // namespace std
