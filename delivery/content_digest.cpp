#include "delivery/content_digest.hpp"

#include "delivery/delivery_error.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <vector>

namespace bitsd::delivery {
namespace {

// The chunk size of a re-hash: large enough for full disk throughput, small enough for a stack
// of sessions resuming at once.
constexpr std::size_t rehash_chunk = 256 * 1024;

}  // namespace

void content_digest::context_deleter::operator()(void* context) const noexcept {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context));
}

content_digest::content_digest() : context_(EVP_MD_CTX_new()) {
    if (!context_) throw std::bad_alloc();
    reset();
}

content_digest::~content_digest() = default;
content_digest::content_digest(content_digest&&) noexcept = default;
content_digest& content_digest::operator=(content_digest&&) noexcept = default;

void content_digest::reset() {
    // Only fails for an unusable digest type or no memory; SHA-256 is always there.
    if (EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_.get()), EVP_sha256(), nullptr) != 1) {
        throw std::bad_alloc();
    }
    bytes_ = 0;
}

void content_digest::update(const void* data, std::size_t size) {
    if (size == 0) return;
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_.get()), data, size);
    bytes_ += size;
}

std::error_code content_digest::update_from_file(const std::string& path, std::uint64_t offset,
                                                 std::uint64_t length) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return delivery_errc::data_file_unreadable;
    std::vector<unsigned char> chunk(rehash_chunk);
    std::error_code result;
    while (length > 0) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), length));
        const auto got = ::pread(fd, chunk.data(), want, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            result = delivery_errc::data_file_unreadable;
            break;
        }
        if (got == 0) {
            result = delivery_errc::data_file_too_short;
            break;
        }
        update(chunk.data(), static_cast<std::size_t>(got));
        offset += static_cast<std::uint64_t>(got);
        length -= static_cast<std::uint64_t>(got);
    }
    ::close(fd);
    return result;
}

void content_digest::finish(unsigned char (&out)[32]) const {
    // Finish a copy, so that the running digest can take more bytes.
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), static_cast<EVP_MD_CTX*>(context_.get())) != 1) {
        throw std::bad_alloc();
    }
    unsigned int size = 0;
    EVP_DigestFinal_ex(copy.get(), out, &size);
}

std::string content_digest::base64() const {
    unsigned char digest[32];
    finish(digest);
    return base64_encode(digest, sizeof digest);
}

std::string content_digest::hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    unsigned char digest[32];
    finish(digest);
    std::string out;
    out.reserve(64);
    for (const auto byte : digest) {
        out += digits[byte >> 4];
        out += digits[byte & 0xF];
    }
    return out;
}

std::string base64_encode(const void* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    // EVP_EncodeBlock writes a terminating NUL after the 4*ceil(n/3) characters.
    std::vector<unsigned char> buffer(out.size() + 1);
    const int written = EVP_EncodeBlock(buffer.data(), static_cast<const unsigned char*>(data),
                                        static_cast<int>(size));
    out.assign(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(written));
    return out;
}

}  // namespace bitsd::delivery
