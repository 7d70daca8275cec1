#pragma once
// Stores answer with std::error_code only. std::filesystem, std::string and nlohmann::json can
// still throw (bad_alloc, filesystem_error from a throwing overload); this turns whatever
// escapes a store operation into a code at the public boundary.

#include <filesystem>
#include <new>
#include <system_error>
#include <utility>

namespace bitsd::storage {

template <class Operation>
std::error_code guarded(Operation&& operation) noexcept {
    try {
        return std::forward<Operation>(operation)();
    } catch (const std::filesystem::filesystem_error& e) {
        return e.code();
    } catch (const std::system_error& e) {
        return e.code();
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    } catch (...) {
        return std::make_error_code(std::errc::io_error);
    }
}

}  // namespace bitsd::storage
