#include "storage/storage_error.hpp"

#include <cerrno>
#include <string>

namespace bitsd::storage {
namespace {

class storage_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "bitsd.storage"; }

    std::string message(int value) const override {
        switch (static_cast<storage_errc>(value)) {
        case storage_errc::session_not_found: return "session not found";
        case storage_errc::session_exists: return "session already exists";
        case storage_errc::offset_mismatch: return "offset does not match the stored length";
        case storage_errc::destination_exists: return "destination exists and overwriting is off";
        case storage_errc::wrong_state: return "the session's state does not allow the operation";
        case storage_errc::corrupt_metadata: return "session metadata is unreadable";
        case storage_errc::disk_full: return "no space left on the storage device";
        case storage_errc::destination_unusable: return "the destination cannot be a file";
        case storage_errc::destination_symlink:
            return "a symbolic link at the destination or on its way (never followed)";
        case storage_errc::store_in_use:
            return "in use by another process (is another bitsd running on it?)";
        }
        return "unknown storage error";
    }

    // Lets callers test `ec == std::errc::no_space_on_device` whatever the source of the code.
    std::error_condition default_error_condition(int value) const noexcept override {
        if (static_cast<storage_errc>(value) == storage_errc::disk_full) {
            return std::make_error_condition(std::errc::no_space_on_device);
        }
        return std::error_condition(value, *this);
    }
};

}  // namespace

const std::error_category& storage_category() noexcept {
    static const storage_category_impl category;
    return category;
}

std::error_code make_error_code(storage_errc e) noexcept {
    return std::error_code(static_cast<int>(e), storage_category());
}

bool is_disk_full(const std::error_code& ec) noexcept {
    if (!ec) return false;
    if (ec == storage_errc::disk_full) return true;
    if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
        if (ec.value() == ENOSPC) return true;
#ifdef EDQUOT
        // Quota exhaustion looks the same to a client: transient, retry later.
        if (ec.value() == EDQUOT) return true;
#endif
    }
    return false;
}

}  // namespace bitsd::storage
