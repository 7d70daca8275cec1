#include "server/blocking_pool.hpp"

namespace bitsd::server {

blocking_pool::blocking_pool(std::size_t threads) {
    pool_.emplace(threads == 0 ? 1 : threads);
    commit_pool_.emplace(threads == 0 ? 1 : threads);
    admin_pool_.emplace(1);
}

void blocking_pool::stop_and_join() {
    if (!pool_) return;
    pool_->stop();
    commit_pool_->stop();
    admin_pool_->stop();
    pool_->join();
    commit_pool_->join();
    admin_pool_->join();
    pool_.reset();  // queued handlers (and the connections they own) are destroyed here
    commit_pool_.reset();
    admin_pool_.reset();
}

}  // namespace bitsd::server
