#pragma once
// The signature on every delivery when `signing_secret_file` is set, so that a back-end can tell
// bitsd's POSTs from anyone else's:
//
//   BITS-Signature: t=<unix seconds>,v1=<64 lower-case hex digits>
//
// v1 = HMAC-SHA256(secret, "<t>.<Idempotency-Key value>.<Repr-Digest value>"), the two header
// values exactly as sent (the key in its double quotes, Repr-Digest with its "sha-256=:...:"
// wrapping). The timestamp is the
// attempt's, so every attempt has a fresh signature while the key stays the same; a back-end
// refuses signatures older than a few minutes to stop replays. Verifying, in Python:
//
//   fields = dict(p.split("=", 1) for p in headers["BITS-Signature"].split(","))
//   message = f'{fields["t"]}.{headers["Idempotency-Key"]}.{headers["Repr-Digest"]}'.encode()
//   good = hmac.compare_digest(hmac.new(secret, message, hashlib.sha256).hexdigest(), fields["v1"])
//   fresh = abs(time.time() - int(fields["t"])) < 300
//
// with secret = open(path, "rb").read().strip(): the secret is the file's bytes without
// surrounding blanks and line ends, used as they are (no hex or base64 decoding).

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::delivery {

inline constexpr std::string_view signature_header = "BITS-Signature";

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

    // The BITS-Signature header value for one attempt.
    std::string header_value(std::int64_t unix_time, std::string_view idempotency_key,
                             std::string_view repr_digest) const;

    bool empty() const noexcept { return secret_.empty(); }

    // The secret itself (delivery_settings carries it to each attempt).
    const std::string& secret() const noexcept { return secret_; }

private:
    std::string secret_;
};

// HMAC-SHA256 of message under key, 64 lower-case hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace bitsd::delivery
