// io_context_pool: an exception thrown by a handler is logged and its context runs on, so the
// other work of that thread goes on and the process is not ended by std::terminate.

#include "server/io_context_pool.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/post.hpp>

#include <atomic>
#include <stdexcept>

TEST_CASE("io_context_pool: a handler that throws does not end run(); later handlers still run",
          "[server][io_context_pool]") {
    bitsd::server::io_context_pool pool(2);
    std::atomic<int> ran{0};
    auto& main = pool.main_context();
    boost::asio::post(main, [] { throw std::runtime_error("a handler failed"); });
    boost::asio::post(main, [&] {
        ++ran;
        pool.stop();
    });
    CHECK_NOTHROW(pool.run());
    CHECK(ran == 1);
    pool.destroy();
}
