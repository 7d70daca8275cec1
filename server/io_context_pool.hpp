#pragma once
// One io_context per thread, as in Asio's "HTTP server 2" example: a connection lives on one
// context and so on one thread, with no strand to wrap its handlers and no hand-over between
// threads per request. (A shared io_context with strands cost ~40% of the Ping rate: the
// profile in README's performance section.)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace bitsd::server {

class io_context_pool {
public:
    using executor_type = boost::asio::io_context::executor_type;

    explicit io_context_pool(std::size_t size);

    // The context of the first thread: listeners, signals and timers live there.
    boost::asio::io_context& main_context() noexcept { return *contexts_.front(); }

    // The next context, round robin, for a new connection. Safe from any thread.
    executor_type next_executor() noexcept;

    // Runs every context, one on the calling thread, until stop(). An exception thrown by a
    // handler is logged and its context runs on (run_context).
    void run();
    void stop();
    // Destroys the contexts and every handler still queued in them (call after run returned).
    void destroy();

private:
    void run_context(std::size_t index);

    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<boost::asio::executor_work_guard<executor_type>> work_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace bitsd::server
