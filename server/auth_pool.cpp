#include "server/auth_pool.hpp"

#include <algorithm>
#include <thread>

namespace bitsd::server {

auth_pool::auth_pool(std::size_t threads) { pool_.emplace(std::max<std::size_t>(threads, 1)); }

std::size_t auth_pool::default_threads() noexcept {
    return std::thread::hardware_concurrency() > 1 ? 2 : 1;
}

void auth_pool::stop_and_join() {
    if (!pool_) return;
    pool_->stop();
    pool_->join();
    pool_.reset();  // queued handlers (and the connections they own) are destroyed here
}

}  // namespace bitsd::server
