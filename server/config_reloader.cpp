#include "server/config_reloader.hpp"

#include "config/reload_plan.hpp"
#include "server/log_level.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

namespace bitsd::server {
namespace {

std::string joined(const std::vector<std::string>& keys) {
    std::string text;
    for (const auto& key : keys) text += (text.empty() ? "" : ", ") + key;
    return text;
}

}  // namespace

config_reloader::config_reloader(loader load, live_service& live, storage::session_store& store,
                                 storage::session_locks& locks)
    : load_(std::move(load)), live_(live), store_(store), locks_(locks) {}

bool config_reloader::reload() try {
    std::string error;
    auto candidate = load_ ? load_(error) : std::nullopt;
    if (!candidate) {
        spdlog::error("reload refused: {}; the running configuration stays in force",
                      error.empty() ? "no configuration to reload" : error);
        return false;
    }
    const auto running = live_.current();
    auto plan = config::plan_reload(running->settings(), *candidate);
    for (const auto& key : plan.needs_restart) {
        spdlog::warn("reload: {} changed: needs a restart; the running value stays until then", key);
    }
    // As at start-up: new destinations are created and proven writable, overlaps refused.
    if (const auto problem = config::prepare_directories(plan.next)) {
        spdlog::error("reload refused: {}; the running configuration stays in force", problem->message);
        return false;
    }
    for (const auto& check : checkers_) {
        if (const auto problem = check(plan.next)) {
            spdlog::error("reload refused: {}; the running configuration stays in force", *problem);
            return false;
        }
    }
    auto next = std::make_shared<const config::settings>(std::move(plan.next));
    std::string refusal;
    auto service = make_service_ ? make_service_(next, refusal) : std::make_shared<upload_service>(next, store_, locks_);
    if (!service) {
        spdlog::error("reload refused: {}; the running configuration stays in force",
                      refusal.empty() ? "the new configuration could not be applied" : refusal);
        return false;
    }
    live_.replace(std::move(service));
    for (const auto& o : observers_) o(next);
    if (plan.changed.empty()) {
        spdlog::info("configuration reloaded: nothing to change");
    } else {
        spdlog::info("configuration reloaded: {} now in force for new requests", joined(plan.changed));
    }
    for (const auto& upload : next->uploads) {
        spdlog::info("uploads to {} land in {}", upload.url_prefix, upload.destination_dir.string());
    }
    spdlog::set_level(to_spdlog(next->level));
    return true;
} catch (const std::exception& e) {
    spdlog::error("reload refused: {}; the running configuration stays in force", e.what());
    return false;
}

}  // namespace bitsd::server
