#pragma once
// What a reload (SIGHUP) may change. The candidate configuration is read and validated like at
// start-up; settings the running daemon cannot change (its sockets, its store, its threads)
// keep their running values and are reported as needing a restart. Everything else applies to
// the requests that start after the reload.

#include "config/config.hpp"

#include <string>
#include <vector>

namespace bitsd::config {

struct reload_plan {
    settings next;                           // what to run from now on
    std::vector<std::string> needs_restart;  // keys whose new value waits for a restart
    std::vector<std::string> changed;        // keys whose new value applies now
};

// Keys that only a restart changes: listen, data_dir, fsync, threads, blocking_threads. A key
// added to settings later is applied at runtime unless it is added here. (Delivery settings,
// issue 7: the components that use them subscribe to config_reloader::on_applied; list here
// those that cannot follow, e.g. an outbox directory.)
reload_plan plan_reload(const settings& running, const settings& candidate);

}  // namespace bitsd::config
