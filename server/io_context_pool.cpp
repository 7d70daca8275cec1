#include "server/io_context_pool.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <thread>

namespace bitsd::server {

io_context_pool::io_context_pool(std::size_t size) {
    if (size == 0) size = 1;
    for (std::size_t i = 0; i < size; ++i) {
        // Hint 1: each context is run by exactly one thread (posts from others stay safe).
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        work_.push_back(boost::asio::make_work_guard(*contexts_.back()));
        // The context's reactor (epoll, its eventfd and timerfd) and socket and timer services
        // are built now, not by the first socket or timer made on it: out of descriptors
        // later, building them would throw out of whatever handler made that socket.
        boost::asio::ip::tcp::socket socket(*contexts_.back());
        boost::asio::steady_timer timer(*contexts_.back());
    }
}

void io_context_pool::run_context(std::size_t index) {
    auto& context = *contexts_[index];
    // An exception out of a handler ends only that handler: what it served is dropped (its
    // connection closes as its last owner goes), and the thread runs its context again, so
    // the other connections on it go on and the process never ends in std::terminate.
    for (;;) {
        try {
            context.run();
            return;
        } catch (const std::exception& e) {
            spdlog::error("I/O thread {}: a handler threw ({}); what it served is dropped, the thread goes on",
                          index, e.what());
        } catch (...) {
            spdlog::error("I/O thread {}: a handler threw an unknown exception; what it served is dropped, "
                          "the thread goes on", index);
        }
    }
}

io_context_pool::executor_type io_context_pool::next_executor() noexcept {
    const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
    return contexts_[i]->get_executor();
}

void io_context_pool::run() {
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
        threads.emplace_back([this, i] { run_context(i); });
    }
    run_context(0);
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
