#include "server/drain_controller.hpp"

#include "server/http_connection.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace bitsd::server {
namespace {

// How often the drain looks whether the connections are gone: short enough that an idle
// daemon stops at once, cheap enough to be nothing (a mutex and a size).
constexpr std::chrono::milliseconds poll_interval{50};

}  // namespace

drain_controller::drain_controller(boost::asio::io_context& main, connection_registry& registry,
                                   std::function<void()> finish)
    : registry_(registry), finish_(std::move(finish)), timer_(main) {}

void drain_controller::begin(std::chrono::seconds timeout) {
    timeout_ = timeout;
    deadline_ = clock::now() + timeout;
    const auto open = registry_.connections();
    for (const auto& connection : open) connection->drain();
    spdlog::info("draining: no new connections; idle ones close now; requests in flight get up "
                 "to {} s (shutdown_timeout_s) to finish ({} connections open)",
                 timeout.count(), open.size());
    poll();
}

void drain_controller::poll() {
    if (finished_) return;
    const std::size_t left = registry_.size();
    if (left == 0) {
        spdlog::info(cut_ ? "drained: the cut connections are closed" : "drained: every request finished");
        finished_ = true;
        return finish_();
    }
    const auto now = clock::now();
    if (!cut_ && now >= deadline_) {
        cut_ = true;
        deadline_ = now + cut_grace;
        spdlog::warn("shutdown_timeout_s ({} s) is over: cutting {} connections still in flight",
                     timeout_.count(), left);
        for (const auto& connection : registry_.connections()) connection->cut();
    } else if (cut_ && now >= deadline_) {
        spdlog::warn("{} cut connections still open after {} ms: stopping anyway", left, cut_grace.count());
        finished_ = true;
        return finish_();
    }
    timer_.expires_after(poll_interval);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) poll();
    });
}

}  // namespace bitsd::server
