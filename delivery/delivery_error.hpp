#pragma once
// The delivery library's own errors, made into std::error_code like protocol/bits_error.hpp.
// Network failures keep Asio's and Beast's codes; classify_transport() in http_client.hpp reads
// both kinds.

#include <system_error>

namespace bitsd::delivery {

enum class delivery_errc {
    // signing_secret_file
    secret_file_unreadable = 1,  // missing, not a regular file, or a read error
    secret_file_too_open,        // readable or writable by "other" users (mode & 007)
    secret_file_empty,           // nothing left after trimming blanks and line ends

    // content digest
    data_file_unreadable,  // re-hashing the bytes on disk after a restart failed
    data_file_too_short,   // the file holds fewer bytes than the session says it received

    // HTTP client
    bad_url,                // not an http(s) URL the client can reach
    bad_header,             // a header name or value with a line break or NUL
    body_file_unreadable,   // the by-value body could not be opened, or changed size
    reply_file_unwritable,  // the response body file could not be created or written
    reply_too_large,        // the response body exceeds the configured cap
    timed_out,              // connect, send, response or overall deadline passed
    client_stopped,         // the client was shut down with the request in flight
};

const std::error_category& delivery_category() noexcept;
std::error_code make_error_code(delivery_errc e) noexcept;

}  // namespace bitsd::delivery

namespace std {
template <>
struct is_error_code_enum<bitsd::delivery::delivery_errc> : true_type {};
}  // namespace std
