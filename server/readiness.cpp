#include "server/readiness.hpp"

namespace bitsd::server {

readiness& readiness::global() noexcept {
    static readiness instance;
    return instance;
}

}  // namespace bitsd::server
