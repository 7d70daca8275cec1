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
// added to settings later is applied at runtime unless it is added here. The delivery settings
// (uploads[].notification, issue 7) follow a reload: the daemon's service factory reads the
// secret files first (a bad one refuses the reload) and hands them to the delivery coordinator
// and the outbox; a delivery in flight keeps the settings it started with.
reload_plan plan_reload(const settings& running, const settings& candidate);

}  // namespace bitsd::config
