#pragma once
// The protocol's error type, made into std::error_code (the pattern of Beast's http/error.hpp),
// and the one table that maps each error to what the client sees: HTTP status, BITS error code
// (an HRESULT) and BITS error context.

#include <cstdint>
#include <system_error>

namespace bitsd::protocol {

enum class bits_errc {
    // 400 + E_INVALIDARG (0x80070057): the request is malformed; Windows treats it as fatal.
    unknown_packet_type = 1,
    missing_content_length,
    bad_content_length,
    body_not_allowed,
    missing_session_id,
    missing_content_range,
    bad_content_range,
    content_length_mismatch,
    total_changed,
    header_too_long,
    missing_supported_protocols,
    no_common_protocol,
    unsupported_content_encoding,
    chunked_body_not_supported,
    bad_destination_path,
    destination_is_directory,
    destination_unusable,  // at Close-Session: the destination can no longer be a file (a
                           // parent became a file, a directory took the name); bytes kept
    incomplete_upload,  // Close-Session before every byte arrived; the bytes are kept
    malformed_request,  // not valid HTTP/1.x at all (the connection is closed after the answer)
    duplicate_header,   // a field that must appear once was sent twice: no "first one wins"
    bad_host,           // HTTP/1.1 without Host, or any request with two (RFC 9112 3.2)
    url_not_deliverable,  // a notifying prefix could never name this URL to its back-end

    // 403 + E_ACCESSDENIED (0x80070005): fatal. Never 409, which Windows retries forever.
    destination_exists,
    destination_is_link,  // a symbolic link at the destination or on its way: never followed

    // 413, no BITS error: the client resends the same bytes in smaller fragments.
    fragment_too_large,

    // 416, no BITS error: the client resyncs to BITS-Received-Content-Range.
    unexpected_offset,

    // 500 + BG_E_SESSION_NOT_FOUND (0x8020001F): the client starts over with a new session.
    session_not_found,

    // 500 + BG_E_TOO_LARGE (0x80200020): the file is larger than this prefix accepts.
    upload_too_large,

    // 500 + ERROR_DISK_FULL as an HRESULT (0x80070070): transient, nothing stored is lost.
    disk_full,

    // 500 + E_FAIL (0x80004005): anything the server did not foresee; transient for the client.
    internal_error,

    // 404 Ack, no BITS error: a BITS_POST to a URL under no upload prefix (the client reports
    // BG_E_HTTP_ERROR_404, as with IIS when uploads are not enabled there).
    upload_url_not_found,

    // Plain HTTP answers for requests that are not BITS uploads.
    not_found,           // 404
    method_not_allowed,  // 405

    // 503 + HTTP_E_STATUS_SERVICE_UNAVAIL (0x801901F7), context 0x5, with Retry-After: the
    // session is busy (another request holds it past busy_timeout_s, or its commit is still
    // running). Transient for Windows: the client retries later, nothing is lost.
    session_busy,

    // 503 + HTTP_E_STATUS_SERVICE_UNAVAIL, context 0x5, Retry-After: 60: the free space or free
    // inodes of data_dir are below limits.min_free_disk_bytes / limits.min_free_inodes. New
    // sessions and fragments wait (transient for Windows); everything stored is kept.
    low_on_space,

    // 503 + HTTP_E_STATUS_SERVICE_UNAVAIL, context 0x5, Retry-After: 10: this client creates
    // sessions faster than limits.create_sessions_per_minute_per_client, or already holds
    // limits.max_open_sessions_per_client. Transient: the job retries later.
    too_many_sessions,

    // 403 + E_ACCESSDENIED (0x80070005), context 0x5: the principal already holds
    // max_sessions_per_user open sessions under this upload prefix (IIS's
    // BITSNumberOfSessionsLimit). Fatal for the job, as IIS's limit is: retrying cannot help
    // until the user's other jobs finish.
    user_session_limit,

    // 401 with WWW-Authenticate (added by server/), no BITS headers: no or wrong credentials
    // for an upload prefix with "auth". The Windows client answers the challenge and resends.
    unauthorized,

    // 403 + E_ACCESSDENIED (0x80070005), context 0x5: a trusted-header prefix reached other
    // than through a trusted proxy, or without the user header. Fatal for the job.
    access_denied,

    // 503 + HTTP_E_STATUS_SERVICE_UNAVAIL, context 0x5, Retry-After (60 here; server/ puts the
    // seconds until the client's next check is allowed): this client address failed
    // limits.auth_failures_per_minute_per_client password checks in the last minute, and this
    // request's would need another. Transient for Windows: the job retries later.
    too_many_auth_failures,
};

const std::error_category& bits_category() noexcept;
std::error_code make_error_code(bits_errc e) noexcept;

// BITS-Error-Context values.
inline constexpr std::uint32_t context_server = 0x5;       // BG_ERROR_CONTEXT_REMOTE_FILE
inline constexpr std::uint32_t context_application = 0x7;  // BG_ERROR_CONTEXT_REMOTE_APPLICATION

// How one error is answered. hresult 0 means "no BITS-Error headers" (413, 416, 404, 405).
struct error_answer {
    unsigned http_status;
    std::uint32_t hresult;
    std::uint32_t context;
};

// The mapping table. Codes of other categories answer as internal_error.
error_answer answer_for(const std::error_code& ec) noexcept;

}  // namespace bitsd::protocol

namespace std {
template <>
struct is_error_code_enum<bitsd::protocol::bits_errc> : true_type {};
}  // namespace std
