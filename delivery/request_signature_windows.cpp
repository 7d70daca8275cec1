// Windows counterpart of request_signature.cpp: no OpenSSL there (no HMAC), and no delivery
// (refused at config time). See unavailable_windows.hpp.
#include "delivery/request_signature.hpp"

#include "delivery/unavailable_windows.hpp"

namespace bitsd::delivery {

std::error_code request_signature::load(const std::string&, request_signature&) {
    unavailable_on_windows("notification.signing_secret_file");
}

request_signature request_signature::from_secret(std::string) {
    unavailable_on_windows("the request signature (HMAC-SHA256)");
}

std::string canonical_request(std::int64_t, std::string_view, std::string_view, const protocol::header_list&) {
    unavailable_on_windows("the request signature (HMAC-SHA256)");
}

std::string request_signature::header_value(std::int64_t, std::string_view, std::string_view,
                                            const protocol::header_list&) const {
    unavailable_on_windows("the request signature (HMAC-SHA256)");
}

std::string hmac_sha256_hex(std::string_view, std::string_view) { unavailable_on_windows("HMAC-SHA256"); }

}  // namespace bitsd::delivery
