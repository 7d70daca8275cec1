#include "server/io_context_pool.hpp"

#include <thread>

namespace bitsd::server {

io_context_pool::io_context_pool(std::size_t size) {
    if (size == 0) size = 1;
    for (std::size_t i = 0; i < size; ++i) {
        // Hint 1: each context is run by exactly one thread (posts from others stay safe).
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        work_.push_back(boost::asio::make_work_guard(*contexts_.back()));
    }
}

io_context_pool::executor_type io_context_pool::next_executor() noexcept {
    const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
    return contexts_[i]->get_executor();
}

void io_context_pool::run() {
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
        threads.emplace_back([context = contexts_[i].get()] { context->run(); });
    }
    contexts_.front()->run();
    for (auto& t : threads) t.join();
}

void io_context_pool::destroy() {
    work_.clear();
    contexts_.clear();
}

void io_context_pool::stop() {
    work_.clear();
    for (auto& context : contexts_) context->stop();
}

}  // namespace bitsd::server
