#pragma once
// SHA-256 of an upload, computed while its bytes stream in (issue 7: "computed while the bytes
// stream in, not by a second read"), for Repr-Digest (RFC 9530) on every delivery.
//
// The state lives in memory only: OpenSSL's EVP interface gives no supported way to export a
// half-finished hash. A session that resumes after a restart therefore re-hashes, once, the bytes
// it already has on disk (update_from_file) and then goes on incrementally. The invariant the
// caller keeps: bytes() == the session's received offset before each update; when it does not
// hold (a restart, bytes cut off after a failed fdatasync), rebuild the digest from the file.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace bitsd::delivery {

class content_digest {
public:
    content_digest();  // throws std::bad_alloc when OpenSSL cannot allocate a context
    ~content_digest();
    content_digest(content_digest&&) noexcept;
    content_digest& operator=(content_digest&&) noexcept;
    content_digest(const content_digest&) = delete;
    content_digest& operator=(const content_digest&) = delete;

    // Appends bytes in upload order.
    void update(const void* data, std::size_t size);

    // Appends bytes [offset, offset + length) of a file, read in chunks (never whole in memory).
    // data_file_unreadable or data_file_too_short on failure; the digest then holds an
    // unspecified prefix and must be reset().
    std::error_code update_from_file(const std::string& path, std::uint64_t offset,
                                     std::uint64_t length);

    // Forgets everything: the digest of zero bytes.
    void reset();

    // How many bytes went in.
    std::uint64_t bytes() const noexcept { return bytes_; }

    // The SHA-256 of the bytes so far, base64 (RFC 4648 §4, padded) as Repr-Digest carries it.
    // Does not end the computation: more bytes may follow.
    std::string base64() const;

    // The same as 64 lower-case hex digits (for logs and the state file).
    std::string hex() const;

private:
    struct context_deleter {
        void operator()(void* context) const noexcept;
    };
    void finish(unsigned char (&out)[32]) const;

    std::unique_ptr<void, context_deleter> context_;  // EVP_MD_CTX
    std::uint64_t bytes_ = 0;
};

// Base64 (RFC 4648 §4, with padding) of a byte string.
std::string base64_encode(const void* data, std::size_t size);

}  // namespace bitsd::delivery
