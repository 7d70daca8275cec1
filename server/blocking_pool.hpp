#pragma once
// A fixed number of threads for work that blocks on the disk: store lookups and updates, the
// fsync at the end of a fragment, commits (a copy across file systems may take minutes) and
// cancels. The I/O threads hand such work here and get the result posted back to the
// connection's own io_context, so one slow disk operation never stalls the other connections
// of its thread.

#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <optional>

namespace bitsd::server {

class blocking_pool {
public:
    using executor_type = boost::asio::thread_pool::executor_type;

    // `threads` for short disk work and as many again for commits.
    explicit blocking_pool(std::size_t threads);

    // Short work: lookups, creates, the flush at the end of a fragment, cancels.
    executor_type executor() noexcept { return pool_->get_executor(); }
    // Commits, which may copy for minutes: a pool of their own, so that a few large commits
    // never make every Create-Session and Fragment of the server queue behind them.
    executor_type commit_executor() noexcept { return commit_pool_->get_executor(); }
    // The admin listener's store walks (/metrics, /api/sessions): one thread of their own, so
    // a scrape of a large store (or a hung disk under it) never queues Create-Session and
    // Fragment work behind it, and two scrapes never walk at once.
    executor_type admin_executor() noexcept { return admin_pool_->get_executor(); }

    // For stopping: waits for the work that is running (it finishes: a commit is never cut
    // off halfway, and is resumable anyway) and destroys what is queued without running it.
    // Queued work owns connections; call this while their io_contexts still exist.
    void stop_and_join();

private:
    std::optional<boost::asio::thread_pool> pool_;
    std::optional<boost::asio::thread_pool> commit_pool_;
    std::optional<boost::asio::thread_pool> admin_pool_;
};

}  // namespace bitsd::server
