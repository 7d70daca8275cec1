#pragma once
// The threads that compute password hashes (Basic: about 12 ms of CPU per yescrypt check): a
// pool of their own, apart from the I/O threads (a guesser must not stall other connections)
// and from the blocking pool (nor the disk work of uploads). The connection posts a check here
// and gets the verdict posted back to its own io_context; the number of checks a client can
// start is bounded by limits.auth_failures_per_minute_per_client (auth_failure_limiter).

#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <optional>

namespace bitsd::server {

class auth_pool {
public:
    using executor_type = boost::asio::thread_pool::executor_type;

    explicit auth_pool(std::size_t threads = default_threads());

    executor_type executor() noexcept { return pool_->get_executor(); }

    // As blocking_pool::stop_and_join: the running checks finish, queued ones are destroyed
    // (with the connections they own): call it while the io_contexts still exist.
    void stop_and_join();

    // Two threads, one on a single-core machine: enough for the checks that are not
    // remembered, and never all the cores.
    static std::size_t default_threads() noexcept;

private:
    std::optional<boost::asio::thread_pool> pool_;
};

}  // namespace bitsd::server
