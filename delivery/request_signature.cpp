#include "delivery/request_signature.hpp"

#include "delivery/delivery_error.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace bitsd::delivery {
namespace {

constexpr off_t max_secret_size = 64 * 1024;

std::string_view trim_blanks(std::string_view s) noexcept {
    // The same set as Python's bytes.strip(), so the documented verifier reads the same secret.
    constexpr std::string_view blanks = " \t\r\n\v\f";
    const auto first = s.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(blanks);
    return s.substr(first, last - first + 1);
}

bool same_name(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view value_of(const protocol::header_list& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (same_name(key, name)) return value;
    }
    return {};
}

}  // namespace

std::string canonical_request(std::int64_t unix_time, std::string_view method, std::string_view target,
                              const protocol::header_list& headers) {
    std::string text = std::to_string(unix_time);
    text.append("\n").append(method).append("\n").append(target);
    for (const auto name : signed_headers) {
        text += '\n';
        for (const char c : name) text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        text.append(":").append(value_of(headers, name));
    }
    return text;
}

std::error_code request_signature::load(const std::string& path, request_signature& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return delivery_errc::secret_file_unreadable;
    struct stat info {};
    std::error_code result;
    std::string content;
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size > max_secret_size) {
        result = delivery_errc::secret_file_unreadable;
    } else if ((info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
        // A secret anyone on the host can read is no secret; refuse as ssh does with keys.
        result = delivery_errc::secret_file_too_open;
    } else {
        content.resize(static_cast<std::size_t>(info.st_size));
        std::size_t done = 0;
        while (done < content.size()) {
            const auto got = ::read(fd, content.data() + done, content.size() - done);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) break;
            done += static_cast<std::size_t>(got);
        }
        if (done != content.size()) result = delivery_errc::secret_file_unreadable;
    }
    ::close(fd);
    if (result) return result;
    const auto secret = trim_blanks(content);
    if (secret.empty()) return delivery_errc::secret_file_empty;
    out.secret_ = std::string(secret);
    return {};
}

request_signature request_signature::from_secret(std::string secret) {
    request_signature signature;
    signature.secret_ = std::move(secret);
    return signature;
}

std::string request_signature::header_value(std::int64_t unix_time, std::string_view method,
                                            std::string_view target,
                                            const protocol::header_list& headers) const {
    const auto t = std::to_string(unix_time);
    std::string v1_message = t;
    v1_message.append(".").append(value_of(headers, "Idempotency-Key"));
    v1_message.append(".").append(value_of(headers, "Repr-Digest"));
    return "t=" + t + ",v1=" + hmac_sha256_hex(secret_, v1_message) +
           ",v2=" + hmac_sha256_hex(secret_, canonical_request(unix_time, method, target, headers));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &size);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
        out += digits[mac[i] >> 4];
        out += digits[mac[i] & 0xF];
    }
    return out;
}

}  // namespace bitsd::delivery
