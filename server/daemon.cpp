#include "server/daemon.hpp"

#include "server/admin_listener.hpp"
#include "server/auth_failure_limiter.hpp"
#include "server/auth_pool.hpp"
#include "server/blocking_pool.hpp"
#include "server/config_reloader.hpp"
#include "server/connection_registry.hpp"
#include "server/delivery_coordinator.hpp"
#include "server/delivery_outbox.hpp"
#include "server/delivery_scheduler.hpp"
#include "server/descriptor_budget.hpp"
#include "server/drain_controller.hpp"
#include "server/file_limit.hpp"
#include "server/reply_server.hpp"
#include "server/io_context_pool.hpp"
#include "server/listener.hpp"
#include "server/live_service.hpp"
#include "server/readiness.hpp"
#include "server/service_notifier.hpp"
#include "server/stop_deadline.hpp"
#include "server/tls/tls_context.hpp"
#include "server/upload_service.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"
#include "storage/storage_error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
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
    // Armed by the first SIGTERM/SIGINT: the process ends within shutdown_timeout_s + 1 s.
    // Declared first, so destroyed last: the destruction of everything else is within it too.
    stop_deadline stop_bound;
    // Declared before the pool, so destroyed after it: connections still pending in the pool
    // when it is destroyed refer to the service and the store.
    // The start-up configuration. After a reload live->current()->settings() is in force;
    // only what a reload cannot change (listen, data_dir, fsync, threads) is read from here.
    config::settings settings;
    std::unique_ptr<storage::session_store> store;
    storage::session_locks locks;  // shared by the upload_service of every configuration
    // Async deliveries: the coordinator's scheduler, always there (a reload may turn async
    // on). Outlives the coordinator and the blocking pool's work, which both hand sessions to it.
    std::unique_ptr<delivery_outbox> outbox;
    // Delivery to back-ends (issue 7). The coordinator, the outbox and the reply server outlive
    // every upload_service generation, which point to them; a reload gives the first two the
    // new delivery settings (apply_delivery).
    std::unique_ptr<delivery_coordinator> delivery;
    std::unique_ptr<reply_server> replies;
    std::shared_ptr<admission_control> admission;
    std::unique_ptr<live_service> live;
    connection_registry registry;
    std::unique_ptr<tls_listeners> tls;  // the TLS listeners' contexts (swapped on SIGHUP)
    std::unique_ptr<config_reloader> reloader;
    std::optional<file_limit> files;  // the open-files limit raised at start-up (none on Windows)

    // `next` with its connection caps lowered to what the open-files limit holds (warned,
    // naming each key): at start-up and at every reload.
    std::shared_ptr<const config::settings> fit_to_files(std::shared_ptr<const config::settings> next) const {
        if (!files) return next;
        auto budget = fit_to_file_limit(next->limits.max_connections, next->limits.max_admin_connections, files->now,
                                        thread_count(settings.threads), settings.blocking_threads);
        if (budget.warnings.empty()) return next;
        for (const auto& warning : budget.warnings) spdlog::warn("{}", warning);
        auto fitted = std::make_shared<config::settings>(*next);
        fitted->limits.max_connections = budget.max_connections;
        fitted->limits.max_admin_connections = budget.max_admin_connections;
        return fitted;
    }

    // An upload_service for `settings`, with delivery attached: every generation is built here.
    // The admission control ("limits") is the daemon's too: its counts outlive a reload, which
    // only gives it new limits, once the new generation was built (a refused reload changes none).
    std::shared_ptr<upload_service> make_service(std::shared_ptr<const config::settings> next) {
        if (!admission) admission = make_admission(*next);
        auto service = std::make_shared<upload_service>(next, *store, locks, admission);
        // Always attached: the prefixes that notify are the coordinator's to say, per request,
        // and a reply lives until Close-Session or expiry, whatever a reload changed since.
        service->attach_delivery(delivery.get(), replies.get());
        apply_admission(*admission, *next);
        return service;
    }

    // A reload's generation with its delivery settings. The secret files are read first: a
    // bad one refuses the reload (null, `error` naming the key) before anything changed; the
    // coordinator and the outbox take the new settings once the service is built.
    std::shared_ptr<upload_service> reload_service(std::shared_ptr<const config::settings> next, std::string& error) {
        next = fit_to_files(std::move(next));
        std::vector<std::optional<delivery::delivery_settings>> per_prefix;
        if (auto problem = load_delivery_settings(*next, per_prefix)) {
            error = std::move(*problem);
            return nullptr;
        }
        auto service = make_service(next);
        outbox->apply_routes(*next, per_prefix);
        delivery->apply(std::move(next), std::move(per_prefix));
        return service;
    }

    // Disk work of the connections (lookups, flushes, commits). Stopped and joined after the
    // I/O threads, before the io_contexts are destroyed: its queued work owns connections.
    blocking_pool blocking;
    // Password checks (Basic) on threads of their own, stopped with the blocking pool; the
    // failure limiter outlives every configuration generation, like the admission control.
    auth_pool auth;
    auth_failure_limiter auth_failures;
    io_context_pool pool;
    std::vector<std::shared_ptr<listener>> listeners;
    std::shared_ptr<admin_listener> admin;  // admin_listen; null when off
    std::optional<net::signal_set> signals;  // on the main context: reset before it is destroyed
    std::optional<drain_controller> drain;   // likewise
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
#ifdef SIGHUP  // POSIX; the Windows build reloads by restart
        signals->add(SIGHUP);
#endif
    }
    ~impl() {
        signals.reset();
        drain.reset();
        watchdog_timer.reset();
        // Handlers still queued in the contexts own connections; they go first, while the
        // service their destructors touch is alive.
        listeners.clear();
        admin.reset();
        blocking.stop_and_join();
        auth.stop_and_join();
        // The HTTP clients' sockets belong to the contexts: closed while the contexts exist.
        if (delivery) delivery->stop();
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
            const auto service = live->current();
            const auto removed = service->sweep(static_cast<std::int64_t>(std::time(nullptr)));
            if (removed > 0) spdlog::info("sweep removed {} expired sessions", removed);
            schedule_sweep(std::chrono::seconds(service->settings().cleanup_interval_s));
        });
    }

    static bool is_reload_signal(int signal) {
#ifdef SIGHUP
        return signal == SIGHUP;
#else
        (void)signal;
        return false;
#endif
    }

    void wait_for_signal() {
        signals->async_wait([this](boost::system::error_code ec, int signal) {
            if (ec) return;
            on_signal(signal);
            wait_for_signal();
        });
    }

    void on_signal(int signal) {
        if (is_reload_signal(signal)) {
            if (registry.draining()) return spdlog::info("SIGHUP ignored: stopping");
            spdlog::info("SIGHUP received: reloading the configuration");
            // Off the I/O threads: reading the file and probing directories touch the disk.
            net::post(maintenance, [this] {
                if (reloader) {
                    reloader->reload();
                } else {
                    spdlog::error("reload refused: this daemon has no configuration to reload");
                }
            });
            return;
        }
        if (registry.draining()) {
            // The operator insists: stop now. Bytes written so far are in the files (a flush
            // of the durable policy may be skipped: nothing unflushed was acknowledged), and a
            // commit cut halfway is finished by the next start; the kernel drops the lock.
            spdlog::warn("second signal {} received: exiting at once; {} connections cut", signal,
                         registry.size());
            spdlog::default_logger()->flush();
            std::_Exit(128 + signal);
        }
        spdlog::info("signal {} received: stopping", signal);
        notifier.stopping("stopping (signal " + std::to_string(signal) + ")");
        registry.start_draining();
        readiness::global().start_draining();  // /readyz and GET / answer 503 from now on
        if (watchdog_timer) watchdog_timer->cancel();
        for (const auto& l : listeners) l->stop();
        net::post(maintenance, [this] { sweep_timer.cancel(); });
        maintenance.stop();
        const auto timeout = std::chrono::seconds(live->current()->settings().shutdown_timeout_s);
        // The drain ends by timeout + drain_controller::cut_grace; the rest (joining the pools'
        // running work, the sweep, a delivery's back-end) is cut short at timeout + 0.9 s.
        stop_bound.arm(std::chrono::steady_clock::now() + timeout + std::chrono::milliseconds(900), [] {
            spdlog::warn("stopping took longer than shutdown_timeout_s + 1 s: exiting now; disk work still "
                         "running is finished at the next start, deliveries in flight are sent again then");
            spdlog::default_logger()->flush();
            std::_Exit(0);  // a stop after a drain, even one cut short (README "Exit codes")
        });
        // The admin listener stays up while draining (a balancer sees /readyz 503), then stops.
        drain.emplace(pool.main_context(), registry, [this] {
            if (admin) admin->stop();
            pool.stop();
        });
        drain->begin(timeout);
    }
};

daemon::daemon(config::settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {
    auto& s = impl_->settings;
    // Sockets and files share one limit: the soft one goes up to the hard one, and the
    // connection caps are kept under it (fit_to_files).
    impl_->files = raise_file_limit();
    if (impl_->files && !impl_->files->error.empty()) {
        spdlog::warn("cannot raise the open-files limit (RLIMIT_NOFILE) from {}: {}", impl_->files->before,
                     impl_->files->error);
    } else if (impl_->files && impl_->files->now != impl_->files->before) {
        spdlog::info("open-files limit (RLIMIT_NOFILE) raised from {} to {}", impl_->files->before, impl_->files->now);
    }
    std::error_code ec;
    const auto policy = s.fsync == config::fsync_mode::durable ? storage::fsync_policy::durable
                                                               : storage::fsync_policy::none;
    impl_->store = storage::make_filesystem_store(s.data_dir, policy, ec);
    if (ec == storage::storage_errc::store_in_use) {
        throw data_dir_in_use("data_dir: cannot open the session store in \"" + s.data_dir.string() +
                              "\": " + ec.message());
    }
    if (ec || !impl_->store) {
        throw std::runtime_error("data_dir: cannot open the session store in \"" + s.data_dir.string() +
                                 "\": " + ec.message());
    }
    const auto first = impl_->fit_to_files(std::make_shared<const config::settings>(s));
    std::vector<std::optional<delivery::delivery_settings>> deliveries;
    if (const auto error = load_delivery_settings(s, deliveries)) throw std::runtime_error(*error);
    outbox_options outbox_settings;
    // The generation in force when the delivery ends decides where a closed upload goes.
    outbox_settings.finish_close = [&d = *impl_](const std::string& id) {
        return d.live->current()->finish_requested_close(id);
    };
    impl_->outbox = make_delivery_outbox(s, deliveries, *impl_->store, impl_->locks, impl_->blocking,
                                         std::move(outbox_settings));
    impl_->delivery = std::make_unique<delivery_coordinator>(first, *impl_->store, impl_->locks,
                                                             std::move(deliveries), *impl_->outbox);
    impl_->replies = std::make_unique<reply_server>(*impl_->store);
    impl_->live = std::make_unique<live_service>(impl_->make_service(first));
    const connection_shared shared{*impl_->live, impl_->blocking, impl_->registry, impl_->auth, impl_->auth_failures};
    impl_->tls = std::make_unique<tls_listeners>(s.listen);  // throws naming listen[i].tls.cert/key
    for (std::size_t i = 0; i < s.listen.size(); ++i) {
        const auto& endpoint = s.listen[i];
        boost::system::error_code address_ec;
        const auto address = net::ip::make_address(endpoint.host, address_ec);
        if (address_ec) throw std::runtime_error("listen: bad address \"" + endpoint.host + "\"");
        try {
            impl_->listeners.push_back(std::make_shared<listener>(
                impl_->pool, net::ip::tcp::endpoint(address, endpoint.port), shared, impl_->tls->slot(i)));
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
                                                            *impl_->store, impl_->blocking, BITSD_VERSION,
                                                            s.admin_allowed_hosts);
            impl_->admin->set_max_connections(first->limits.max_admin_connections);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("admin_listen: cannot listen on " + config::to_string(*s.admin_listen) +
                                     ": " + e.code().message());
        }
    }
}

daemon::~daemon() = default;

void daemon::reload_with(settings_loader load) {
    impl_->reloader = std::make_unique<config_reloader>(std::move(load), *impl_->live, *impl_->store,
                                                        impl_->locks);
    impl_->reloader->build_services_with(
        [&d = *impl_](std::shared_ptr<const config::settings> next, std::string& error) {
            return d.reload_service(std::move(next), error);
        });
    // TLS listeners read their certificate and key again; one that does not load refuses the
    // reload (the running contexts stay), else they are swapped in with the rest.
    impl_->reloader->check_with(
        [&d = *impl_](const config::settings& next) { return d.tls->prepare(next.listen); });
    impl_->reloader->on_applied([&d = *impl_](const std::shared_ptr<const config::settings>&) { d.tls->commit(); });
    // The admin cap as fitted to the open-files limit: the generation in force holds it.
    impl_->reloader->on_applied([&d = *impl_](const std::shared_ptr<const config::settings>&) {
        if (d.admin) d.admin->set_max_connections(d.live->current()->settings().limits.max_admin_connections);
    });
}

bool daemon::draining() const noexcept { return impl_->registry.draining(); }

int daemon::run() {
    auto& d = *impl_;
    std::string listening;
    for (const auto& l : d.listeners) {
        l->run();
        const auto endpoint = format_endpoint(l->local_endpoint());
        spdlog::info("listening on {}{}", endpoint, l->is_tls() ? " (TLS)" : "");
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
    d.wait_for_signal();
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
    d.outbox->start();  // re-drives every delivery owed

    d.pool.run();
    // Attempts in flight are abandoned (still `delivering` on disk, re-driven at the next start).
    d.outbox->stop();
    d.maintenance.stop();
    maintenance_thread.join();
    // Disk work in flight finishes (a commit is never cut off; it is resumable anyway); work
    // not started is dropped with the connections that queued it.
    d.blocking.stop_and_join();
    d.auth.stop_and_join();
    // Requests still waiting for a session lock are dropped, not granted: granting would post
    // work to io_contexts that no longer run.
    d.locks.shutdown();
    spdlog::info("stopped");
    return 0;
}

}  // namespace bitsd::server
