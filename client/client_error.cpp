#include "client/client_error.hpp"

#include <string>

namespace bitsd::client {
namespace {

class client_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "bits-upload"; }

    std::string message(int value) const override {
        switch (static_cast<client_errc>(value)) {
        case client_errc::interrupted: return "interrupted";
        case client_errc::source_read_failed: return "the file could not be read";
        case client_errc::source_changed: return "the file changed during the upload";
        case client_errc::response_too_large: return "the server's response header is too large";
        case client_errc::reply_write_failed: return "the reply file could not be written";
        }
        return "unknown bits-upload error";
    }
};

}  // namespace

const std::error_category& client_category() noexcept {
    static const client_category_impl category;
    return category;
}

std::error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

}  // namespace bitsd::client
