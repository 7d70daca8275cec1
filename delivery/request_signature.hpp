#pragma once
// The signature on every delivery when `signing_secret_file` is set, so that a back-end can tell
// bitsd's POSTs from anyone else's, and a captured one from one altered on the way:
//
//   BITS-Signature: t=<unix seconds>,v1=<64 hex digits>,v2=<64 hex digits>
//
// v2 = HMAC-SHA256(secret, the canonical text of everything the back-end acts on): the lines
//
//   <t>
//   <method>                      POST
//   <request-target>              path and query as sent (the Host may be rewritten on the way)
//   bits-original-request-url:<value>
//   bits-request-datafile-name:<value>
//   bits-response-datafile-name:<value>
//   bits-session-id:<value>
//   bits-upload-size:<value>
//   idempotency-key:<value>
//   repr-digest:<value>
//   content-length:<value>
//
// joined with "\n" (no final line end), each header value exactly as sent and empty when the
// header is absent (by value there are no data-file names). v1 = HMAC-SHA256(secret,
// "<t>.<Idempotency-Key value>.<Repr-Digest value>") covers only the key and digest; it is
// deprecated and still sent for one release beside v2, so back-ends can move to v2 first.
//
// The timestamp is the attempt's, so every attempt has a fresh signature while the key stays
// the same; a back-end refuses signatures older than a few minutes to stop replays. The
// verifier back-end authors copy is README.md's ("For back-end authors"); the e2e tests run
// that very text. The secret is the file's bytes without surrounding blanks and line ends,
// used as they are (no hex or base64 decoding).

#include "protocol/notification.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::delivery {

inline constexpr std::string_view signature_header = "BITS-Signature";

// The headers v2 covers, in the canonical text's order.
inline constexpr std::array<std::string_view, 8> signed_headers{
    {"BITS-Original-Request-URL", "BITS-Request-DataFile-Name", "BITS-Response-DataFile-Name", "BITS-Session-Id",
     "BITS-Upload-Size", "Idempotency-Key", "Repr-Digest", "Content-Length"}};

// The text v2 signs (above) for a request with this method, target and headers.
std::string canonical_request(std::int64_t unix_time, std::string_view method, std::string_view target,
                              const protocol::header_list& headers);

class request_signature {
public:
    // Reads the secret: a regular file (symbolic links followed) of at most 64 KiB that "other"
    // users can neither read nor write (mode & 006 == 0; 0600 or 0640 with a bitsd group are
    // fine), not empty once trimmed. Errors: secret_file_unreadable, secret_file_too_open,
    // secret_file_empty. Meant for start-up, where a refusal names the config key.
    static std::error_code load(const std::string& path, request_signature& out);

    // A signer over a secret already in memory (tests, and secrets from elsewhere).
    static request_signature from_secret(std::string secret);

    request_signature() = default;

    // The BITS-Signature header value for one attempt: "t=...,v1=...,v2=...", over the
    // request as it will be sent (its headers without BITS-Signature itself).
    std::string header_value(std::int64_t unix_time, std::string_view method, std::string_view target,
                             const protocol::header_list& headers) const;

    bool empty() const noexcept { return secret_.empty(); }

    // The secret itself (delivery_settings carries it to each attempt).
    const std::string& secret() const noexcept { return secret_; }

private:
    std::string secret_;
};

// HMAC-SHA256 of message under key, 64 lower-case hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace bitsd::delivery
