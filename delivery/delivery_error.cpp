#include "delivery/delivery_error.hpp"

#include <string>

namespace bitsd::delivery {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "bitsd.delivery"; }
    std::string message(int value) const override {
        switch (static_cast<delivery_errc>(value)) {
        case delivery_errc::secret_file_unreadable: return "the signing secret file cannot be read";
        case delivery_errc::secret_file_too_open:
            return "the signing secret file is accessible to other users (chmod o-rwx)";
        case delivery_errc::secret_file_empty: return "the signing secret file is empty";
        case delivery_errc::data_file_unreadable: return "the uploaded bytes cannot be read back";
        case delivery_errc::data_file_too_short:
            return "the upload file is shorter than the bytes received";
        case delivery_errc::bad_url: return "not an http:// or https:// URL";
        case delivery_errc::bad_header: return "a header carries a line break or NUL";
        case delivery_errc::body_file_unreadable: return "the request body file cannot be read";
        case delivery_errc::reply_file_unwritable: return "the reply file cannot be written";
        case delivery_errc::reply_too_large: return "the back-end's reply exceeds the size limit";
        case delivery_errc::timed_out: return "the back-end did not answer in time";
        case delivery_errc::client_stopped: return "the HTTP client was stopped";
        }
        return "unknown delivery error";
    }
};

}  // namespace

const std::error_category& delivery_category() noexcept {
    static const category instance;
    return instance;
}

std::error_code make_error_code(delivery_errc e) noexcept {
    return {static_cast<int>(e), delivery_category()};
}

}  // namespace bitsd::delivery
