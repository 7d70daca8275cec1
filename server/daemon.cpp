#include "server/daemon.hpp"

#include "server/admin_listener.hpp"
#include "server/blocking_pool.hpp"
#include "server/io_context_pool.hpp"
#include "server/listener.hpp"
#include "server/readiness.hpp"
#include "server/service_notifier.hpp"
#include "server/upload_service.hpp"
#include "storage/session_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef BITSD_VERSION
#define BITSD_VERSION "0.0.0"
#endif

namespace bitsd::server {

namespace net = boost::asio;

namespace {

std::string format_endpoint(const net::ip::tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(endpoint.port());
}

unsigned thread_count(unsigned configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct daemon::impl {
    // Declared before the pool, so destroyed after it: connections still pending in the pool
    // when it is destroyed refer to the service and the store.
    config::settings settings;
    std::unique_ptr<storage::session_store> store;
    std::unique_ptr<upload_service> service;
    // Disk work of the connections (lookups, flushes, commits). Stopped and joined after the
    // I/O threads, before the io_contexts are destroyed: its queued work owns connections.
    blocking_pool blocking;
    io_context_pool pool;
    std::vector<std::shared_ptr<listener>> listeners;
    std::shared_ptr<admin_listener> admin;  // admin_listen; null when off
    std::optional<net::signal_set> signals;  // on the main context: reset before it is destroyed
    // systemd's notify socket (does nothing without NOTIFY_SOCKET). Its watchdog pings come from
    // a timer on the main I/O context, so a daemon whose I/O is wedged stops pinging.
    service_notifier notifier = service_notifier::from_environment();
    std::optional<net::steady_timer> watchdog_timer;  // like signals: reset before the contexts go
    // The sweep reads every session on disk: it runs on a thread of its own so it never delays
    // accepting or answering (the first sweep after a restart walks all sessions).
    net::io_context maintenance{1};
    net::steady_timer sweep_timer{maintenance};

    explicit impl(config::settings s)
        : settings(std::move(s)), blocking(settings.blocking_threads), pool(thread_count(settings.threads)) {
        signals.emplace(pool.main_context(), SIGINT, SIGTERM);
    }
    ~impl() {
        signals.reset();
        watchdog_timer.reset();
        // Handlers still queued in the contexts own connections; they go first, while the
        // service their destructors touch is alive.
        listeners.clear();
        admin.reset();
        blocking.stop_and_join();
        pool.destroy();
    }

    void schedule_watchdog(std::chrono::microseconds interval) {
        watchdog_timer->expires_after(interval);
        watchdog_timer->async_wait([this, interval](boost::system::error_code ec) {
            if (ec) return;
            notifier.watchdog();
            schedule_watchdog(interval);
        });
    }

    void schedule_sweep(std::chrono::seconds delay) {
        sweep_timer.expires_after(delay);
        sweep_timer.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            const auto removed = service->sweep(static_cast<std::int64_t>(std::time(nullptr)));
            if (removed > 0) spdlog::info("sweep removed {} expired sessions", removed);
            schedule_sweep(std::chrono::seconds(settings.cleanup_interval_s));
        });
    }
};

daemon::daemon(config::settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {
    auto& s = impl_->settings;
    std::error_code ec;
    const auto policy = s.fsync == config::fsync_mode::durable ? storage::fsync_policy::durable
                                                               : storage::fsync_policy::none;
    impl_->store = storage::make_filesystem_store(s.data_dir, policy, ec);
    if (ec || !impl_->store) {
        throw std::runtime_error("data_dir: cannot open the session store in \"" + s.data_dir.string() +
                                 "\": " + ec.message());
    }
    impl_->service = std::make_unique<upload_service>(s, *impl_->store);

    connection_limits limits;
    limits.read_timeout = std::chrono::seconds(s.read_timeout_s);
    limits.idle_timeout = std::chrono::seconds(s.idle_timeout_s);
    limits.min_body_rate = s.min_body_rate_bytes_per_s;
    limits.busy_timeout = std::chrono::seconds(s.busy_timeout_s);
    for (const auto& endpoint : s.listen) {
        boost::system::error_code address_ec;
        const auto address = net::ip::make_address(endpoint.host, address_ec);
        if (address_ec) throw std::runtime_error("listen: bad address \"" + endpoint.host + "\"");
        try {
            impl_->listeners.push_back(std::make_shared<listener>(
                impl_->pool, net::ip::tcp::endpoint(address, endpoint.port), *impl_->service, impl_->blocking, limits));
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("listen: cannot listen on " + endpoint.host + ":" +
                                     std::to_string(endpoint.port) + ": " + e.code().message());
        }
    }
    if (s.admin_listen) {
        boost::system::error_code address_ec;
        const auto address = net::ip::make_address(s.admin_listen->host, address_ec);
        if (address_ec) throw std::runtime_error("admin_listen: bad address \"" + s.admin_listen->host + "\"");
        try {
            impl_->admin = std::make_shared<admin_listener>(impl_->pool.main_context(),
                                                            net::ip::tcp::endpoint(address, s.admin_listen->port),
                                                            *impl_->store, impl_->blocking, BITSD_VERSION);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("admin_listen: cannot listen on " + config::to_string(*s.admin_listen) +
                                     ": " + e.code().message());
        }
    }
}

daemon::~daemon() = default;

int daemon::run() {
    auto& d = *impl_;
    std::string listening;
    for (const auto& l : d.listeners) {
        l->run();
        const auto endpoint = format_endpoint(l->local_endpoint());
        spdlog::info("listening on {}", endpoint);
        listening += (listening.empty() ? "listening on " : ", ") + endpoint;
    }
    if (d.admin) {
        d.admin->run();
        // Worded unlike the upload listeners' line: tools wait for "listening on" to find those.
        spdlog::info("admin interface on http://{}/ (/healthz /readyz /metrics /api/sessions)",
                     format_endpoint(d.admin->local_endpoint()));
    }
    for (const auto& upload : d.settings.uploads) {
        spdlog::info("uploads to {} land in {}", upload.url_prefix, upload.destination_dir.string());
    }
    d.signals->async_wait([&d](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {} received: stopping", signal);
        d.notifier.stopping("stopping (signal " + std::to_string(signal) + ")");
        if (d.watchdog_timer) d.watchdog_timer->cancel();
        for (const auto& l : d.listeners) l->stop();
        if (d.admin) d.admin->stop();
        net::post(d.maintenance, [&d] { d.sweep_timer.cancel(); });
        d.maintenance.stop();
        d.pool.stop();
    });
    // The first sweep runs at once: it also finishes commits that a crash interrupted.
    d.schedule_sweep(std::chrono::seconds(0));
    // Ready once the store is open and every listener accepts. The first sweep (finishing
    // commits a crash interrupted, removing expired sessions) runs alongside, not before: it
    // walks every session on disk, and a session it has not reached yet is answered correctly
    // anyway (a Close resumes its commit), so systemd need not wait for it.
    d.notifier.ready(listening);
    readiness::global().set_ready();
    if (const auto interval = d.notifier.watchdog_interval()) {
        d.watchdog_timer.emplace(d.pool.main_context());
        d.schedule_watchdog(*interval);
    }
    std::thread maintenance_thread([&d] { d.maintenance.run(); });

    d.pool.run();
    d.maintenance.stop();
    maintenance_thread.join();
    // Disk work in flight finishes (a commit is never cut off; it is resumable anyway); work
    // not started is dropped with the connections that queued it.
    d.blocking.stop_and_join();
    // Requests still waiting for a session lock are dropped, not granted: granting would post
    // work to io_contexts that no longer run.
    d.service->locks().shutdown();
    spdlog::info("stopped");
    return 0;
}

}  // namespace bitsd::server
