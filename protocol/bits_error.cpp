#include "protocol/bits_error.hpp"

#include <string>

namespace bitsd::protocol {
namespace {

constexpr std::uint32_t e_invalidarg = 0x80070057;
constexpr std::uint32_t e_accessdenied = 0x80070005;
constexpr std::uint32_t e_fail = 0x80004005;
constexpr std::uint32_t bg_e_session_not_found = 0x8020001F;
constexpr std::uint32_t bg_e_too_large = 0x80200020;
// HRESULT_FROM_WIN32(ERROR_DISK_FULL = 112). [MC-BUP] prints x80070112, a decimal/hex slip.
constexpr std::uint32_t error_disk_full = 0x80070070;
// BG_E_HTTP_ERROR_503: what a Windows client itself reports for a 503 without BITS-Error.
constexpr std::uint32_t http_e_status_service_unavail = 0x801901F7;

struct row {
    const char* message;
    error_answer answer;
};

row row_for(bits_errc e) noexcept {
    constexpr error_answer bad_request{400, e_invalidarg, context_server};
    switch (e) {
    case bits_errc::unknown_packet_type: return {"unknown or missing BITS-Packet-Type", bad_request};
    case bits_errc::missing_content_length: return {"Content-Length is required", bad_request};
    case bits_errc::bad_content_length: return {"Content-Length is not a number", bad_request};
    case bits_errc::body_not_allowed: return {"this packet type carries no body", bad_request};
    case bits_errc::missing_session_id: return {"BITS-Session-Id is required", bad_request};
    case bits_errc::missing_content_range: return {"Content-Range is required", bad_request};
    case bits_errc::bad_content_range: return {"malformed Content-Range", bad_request};
    case bits_errc::content_length_mismatch:
        return {"Content-Length differs from the Content-Range length", bad_request};
    case bits_errc::total_changed: return {"the file's total size changed", bad_request};
    case bits_errc::header_too_long: return {"a header value exceeds 4096 bytes", bad_request};
    case bits_errc::missing_supported_protocols:
        return {"BITS-Supported-Protocols is required", bad_request};
    case bits_errc::no_common_protocol: return {"no supported upload protocol offered", bad_request};
    case bits_errc::unsupported_content_encoding:
        return {"only identity Content-Encoding is supported", bad_request};
    case bits_errc::chunked_body_not_supported:
        return {"chunked request bodies are not supported", bad_request};
    case bits_errc::bad_destination_path: return {"the URL does not name a safe file", bad_request};
    case bits_errc::destination_is_directory: return {"the URL names a directory", bad_request};
    case bits_errc::destination_unusable:
        return {"the destination can no longer be a file", bad_request};
    case bits_errc::incomplete_upload:
        return {"Close-Session before the whole file was received", bad_request};
    case bits_errc::malformed_request: return {"malformed HTTP request", bad_request};
    case bits_errc::duplicate_header: return {"a header that must appear once was repeated", bad_request};
    case bits_errc::bad_host: return {"HTTP/1.1 requires exactly one Host header", bad_request};
    case bits_errc::url_not_deliverable:
        return {"the URL cannot be named in the back-end's notification (too long)", bad_request};
    case bits_errc::destination_exists:
        return {"the destination exists and overwrites are off", {403, e_accessdenied, context_server}};
    case bits_errc::destination_is_link:
        return {"a symbolic link at the destination", {403, e_accessdenied, context_server}};
    case bits_errc::fragment_too_large: return {"fragment larger than the server accepts", {413, 0, 0}};
    case bits_errc::unexpected_offset: return {"fragment does not start at the expected offset", {416, 0, 0}};
    case bits_errc::session_not_found:
        return {"session not found", {500, bg_e_session_not_found, context_server}};
    case bits_errc::upload_too_large:
        return {"file larger than the upload limit", {500, bg_e_too_large, context_server}};
    case bits_errc::disk_full: return {"server out of disk space", {500, error_disk_full, context_server}};
    case bits_errc::internal_error: break;
    case bits_errc::upload_url_not_found: return {"no upload prefix matches this URL", {404, 0, 0}};
    case bits_errc::not_found: return {"not found", {404, 0, 0}};
    case bits_errc::method_not_allowed: return {"method not allowed", {405, 0, 0}};
    case bits_errc::session_busy:
        return {"the session is busy with another request",
                {503, http_e_status_service_unavail, context_server}};
    case bits_errc::low_on_space:
        return {"the server is low on disk space; try again later",
                {503, http_e_status_service_unavail, context_server}};
    case bits_errc::too_many_sessions:
        return {"too many sessions from this client; try again later",
                {503, http_e_status_service_unavail, context_server}};
    case bits_errc::user_session_limit:
        return {"this user holds the most sessions the upload prefix allows",
                {403, e_accessdenied, context_server}};
    case bits_errc::unauthorized: return {"authentication required", {401, 0, 0}};
    case bits_errc::access_denied:
        return {"not allowed to upload here", {403, e_accessdenied, context_server}};
    case bits_errc::too_many_auth_failures:
        return {"too many failed password checks from this client; try again later",
                {503, http_e_status_service_unavail, context_server}};
    }
    return {"internal server error", {500, e_fail, context_server}};
}

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "bitsd.protocol"; }
    std::string message(int value) const override {
        return row_for(static_cast<bits_errc>(value)).message;
    }
};

}  // namespace

const std::error_category& bits_category() noexcept {
    static const category instance;
    return instance;
}

std::error_code make_error_code(bits_errc e) noexcept {
    return {static_cast<int>(e), bits_category()};
}

error_answer answer_for(const std::error_code& ec) noexcept {
    if (ec.category() != bits_category()) return row_for(bits_errc::internal_error).answer;
    return row_for(static_cast<bits_errc>(ec.value())).answer;
}

}  // namespace bitsd::protocol
