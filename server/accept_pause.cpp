#include "server/accept_pause.hpp"

#include "server/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace bitsd::server {

accept_pause::accept_pause(const boost::asio::any_io_executor& executor, std::string listener)
    : timer_(executor), listener_(std::move(listener)) {}

void accept_pause::pause(const boost::system::error_code& ec, std::function<void()> resume) {
    metrics::global().accept_paused();
    if (failures_++ == 0) {
        const auto now = clock::now();
        warned_ = last_warning_ == clock::time_point{} || now - last_warning_ >= std::chrono::seconds(10);
        if (warned_) {
            last_warning_ = now;
            spdlog::warn("accept failed on {}: {}; pausing accepts ({} ms, up to {} ms while it lasts)",
                         listener_, ec.message(), first_pause.count(), longest_pause.count());
        }
    }
    timer_.expires_after(next_);
    next_ = std::min(next_ * 2, longest_pause);
    timer_.async_wait([resume = std::move(resume)](boost::system::error_code wait_ec) {
        if (!wait_ec) resume();
    });
}

void accept_pause::accepted() {
    if (failures_ == 0) return;
    if (warned_) spdlog::info("accepting again on {} after {} failed accepts", listener_, failures_);
    failures_ = 0;
    next_ = first_pause;
}

void accept_pause::cancel() { timer_.cancel(); }

}  // namespace bitsd::server
