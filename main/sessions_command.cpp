// `bitsd sessions`: list, show, cancel and purge the upload sessions kept in data_dir.
//
// Where the data directory is: the same --config FILE and --data-dir DIR as the daemon (and the
// same defaults). list and show only read, and work while a daemon runs (no lock, nothing
// created). cancel and purge change sessions: they take the daemon's exclusive lock
// (<data_dir>/bitsd.lock) and refuse with exit code 3 while a daemon holds it, since they would
// race its requests; cancel a session of a running daemon with a Cancel-Session request, and
// purge while it runs is what its sweep (session_timeout_s) already does.

#include "main/sessions_command.hpp"

#include "config/command_line.hpp"
#include "config/duration.hpp"
#include "main/exit_codes.hpp"
#include "storage/data_dir_layout.hpp"
#include "storage/filesystem_store.hpp"
#include "storage/session_id.hpp"
#include "storage/storage_error.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

namespace bitsd::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct options {
    std::string config_file;
    std::string data_dir;
    std::string id;
    std::string older_than;
    bool json_output = false;
    bool dry_run = false;
};

int fail(int code, const std::string& message) {
    std::cerr << "bitsd sessions: " << message << "\n";
    return code;
}

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The data directory, resolved as the daemon resolves it (file, flags, defaults).
std::optional<fs::path> data_dir_of(const options& o, std::string& error) {
    std::vector<const char*> args{"bitsd"};
    if (!o.config_file.empty()) {
        args.push_back("--config");
        args.push_back(o.config_file.c_str());
    }
    if (!o.data_dir.empty()) {
        args.push_back("--data-dir");
        args.push_back(o.data_dir.c_str());
    }
    auto parsed = config::parse_command_line(static_cast<int>(args.size()), args.data());
    if (parsed.action == config::command_action::exit_error) {
        error = parsed.output;
        return std::nullopt;
    }
    return parsed.config.data_dir;
}

json to_json(const storage::session_info& info, std::int64_t now) {
    const auto& m = info.metadata;
    json j;
    j["id"] = m.id;
    j["state"] = storage::to_string(m.state);
    j["url_prefix"] = m.url_prefix;
    j["target"] = m.target;
    j["destination"] = m.destination;
    j["received"] = info.received;
    j["total"] = m.total ? json(*m.total) : json(nullptr);
    j["created_unix"] = m.created_unix;
    j["last_activity_unix"] = info.last_activity_unix;
    j["age_s"] = std::max<std::int64_t>(0, now - m.created_unix);
    j["idle_s"] = std::max<std::int64_t>(0, now - info.last_activity_unix);
    return j;
}

std::string dump(const json& j, int indent) {
    // Targets and paths come from clients: replace what is not UTF-8 rather than throw.
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// Opens the store. Read-only access never locks and never creates anything; exclusive access
// fails with store_in_use while a daemon runs on the data directory.
std::unique_ptr<storage::filesystem_store> open_store(const fs::path& data_dir,
                                                      storage::store_access access, int& code,
                                                      const char* what) {
    std::error_code ec;
    auto store = storage::filesystem_store::open(data_dir, storage::fsync_policy::durable, ec, access);
    if (ec == storage::storage_errc::store_in_use) {
        code = fail(exit_code::data_dir_in_use,
                    std::string(what) + ": data_dir \"" + data_dir.u8string() +
                        "\" is in use by a running bitsd (it holds bitsd.lock there); stop it "
                        "first, or cancel through the protocol (Cancel-Session); a running "
                        "daemon purges expired sessions itself");
        return nullptr;
    }
    if (ec || !store) {
        code = fail(exit_code::failure, std::string(what) + ": cannot open the sessions in \"" +
                                            data_dir.u8string() + "\": " + ec.message());
        return nullptr;
    }
    return store;
}

bool has_sessions(const fs::path& data_dir) {
    std::error_code ec;
    return fs::is_directory(data_dir / storage::data_dir_layout::sessions, ec);
}

std::vector<storage::session_info> all_sessions(storage::filesystem_store& store, std::error_code& ec) {
    std::vector<storage::session_info> sessions;
    ec = store.list([&](const storage::session_info& info) { sessions.push_back(info); });
    std::sort(sessions.begin(), sessions.end(), [](const auto& a, const auto& b) {
        return a.metadata.created_unix != b.metadata.created_unix
                   ? a.metadata.created_unix < b.metadata.created_unix
                   : a.metadata.id < b.metadata.id;
    });
    return sessions;
}

int list(const fs::path& data_dir, const options& o) {
    std::vector<storage::session_info> sessions;
    std::error_code list_ec;
    if (has_sessions(data_dir)) {
        int code = exit_code::ok;
        auto store = open_store(data_dir, storage::store_access::read_only, code, "list");
        if (!store) return code;
        sessions = all_sessions(*store, list_ec);
    }
    const auto now = now_unix();
    if (o.json_output) {
        json array = json::array();
        for (const auto& info : sessions) array.push_back(to_json(info, now));
        std::cout << dump(array, 2) << "\n";
    } else {
        std::cout << "ID                                      STATE       RECEIVED/TOTAL           AGE   IDLE  PREFIX  TARGET\n";
        for (const auto& info : sessions) {
            const auto& m = info.metadata;
            std::string progress = std::to_string(info.received) + "/" +
                                   (m.total ? std::to_string(*m.total) : std::string("?"));
            char line[160];
            std::snprintf(line, sizeof line, "%-38s  %-10s  %-23s  %5s  %5s  ", m.id.c_str(),
                          storage::to_string(m.state), progress.c_str(),
                          config::format_duration_s(now - m.created_unix).c_str(),
                          config::format_duration_s(now - info.last_activity_unix).c_str());
            std::cout << line << m.url_prefix << "  " << m.target << "\n";
        }
        std::cout << sessions.size() << " sessions in " << data_dir.u8string() << "\n";
    }
    if (list_ec) {
        return fail(exit_code::failure, "list: some sessions could not be read: " + list_ec.message());
    }
    return exit_code::ok;
}

// The canonical id, or an exit code.
std::optional<std::string> session_id(const options& o, int& code, const char* what) {
    auto id = storage::normalize_session_id(o.id);
    if (!id) {
        code = fail(exit_code::usage, std::string(what) + ": \"" + o.id +
                                          "\" is not a session id (a {GUID} in braces)");
    }
    return id;
}

int not_found(const char* what, const std::string& id, const fs::path& data_dir) {
    return fail(exit_code::not_found,
                std::string(what) + ": no session " + id + " in \"" + data_dir.u8string() + "\"");
}

int show(const fs::path& data_dir, const options& o) {
    int code = exit_code::ok;
    const auto id = session_id(o, code, "show");
    if (!id) return code;
    if (!has_sessions(data_dir)) return not_found("show", *id, data_dir);
    auto store = open_store(data_dir, storage::store_access::read_only, code, "show");
    if (!store) return code;
    storage::session_info info;
    const auto ec = store->info(*id, info);
    if (ec == storage::storage_errc::session_not_found) return not_found("show", *id, data_dir);
    if (ec) return fail(exit_code::failure, "show: " + *id + ": " + ec.message());
    std::cout << dump(to_json(info, now_unix()), 2) << "\n";
    return exit_code::ok;
}

int cancel(const fs::path& data_dir, const options& o) {
    int code = exit_code::ok;
    const auto id = session_id(o, code, "cancel");
    if (!id) return code;
    if (!has_sessions(data_dir)) return not_found("cancel", *id, data_dir);
    auto store = open_store(data_dir, storage::store_access::exclusive, code, "cancel");
    if (!store) return code;
    storage::session_info info;
    auto ec = store->info(*id, info);
    if (ec == storage::storage_errc::session_not_found) return not_found("cancel", *id, data_dir);
    if (ec) return fail(exit_code::failure, "cancel: " + *id + ": " + ec.message());
    // As Cancel-Session: only a session still receiving is cancelled; once Close-Session was
    // received the file is delivered (or being delivered) and Cancel leaves it alone.
    switch (info.metadata.state) {
    case storage::session_state::receiving:
        if ((ec = store->cancel(*id))) return fail(exit_code::failure, "cancel: " + *id + ": " + ec.message());
        std::cout << "session " << *id << " cancelled: its " << info.received
                  << " received bytes are deleted\n";
        return exit_code::ok;
    case storage::session_state::cancelled:
        std::cout << "session " << *id << " was already cancelled\n";
        return exit_code::ok;
    case storage::session_state::closed:
    case storage::session_state::committing:
        std::cout << "session " << *id << " is " << storage::to_string(info.metadata.state)
                  << " (Close-Session was received): its file is delivered, nothing to cancel\n";
        return exit_code::ok;
    }
    return exit_code::ok;
}

int purge(const fs::path& data_dir, const options& o) {
    std::string why;
    const auto older_than = config::parse_duration_s(o.older_than, why);
    if (!older_than) return fail(exit_code::usage, "purge: --older-than: " + why);
    if (!has_sessions(data_dir)) {
        std::cout << "no sessions in " << data_dir.u8string() << "\n";
        return exit_code::ok;
    }
    int code = exit_code::ok;
    auto store = open_store(data_dir, storage::store_access::exclusive, code, "purge");
    if (!store) return code;
    std::error_code list_ec;
    const auto sessions = all_sessions(*store, list_ec);
    const auto now = now_unix();
    std::size_t removed = 0, skipped = 0, failed = 0;
    for (const auto& info : sessions) {
        const auto idle = now - info.last_activity_unix;
        if (idle < 0 || static_cast<std::uint64_t>(idle) < *older_than) continue;
        const auto& id = info.metadata.id;
        if (info.metadata.state == storage::session_state::committing) {
            // A commit a crash interrupted: the daemon finishes it at its next start (and
            // cleans the temporary copy it may have left beside the destination).
            std::cout << "skipped " << id << ": committing; start bitsd to finish its commit\n";
            ++skipped;
            continue;
        }
        if (o.dry_run) {
            std::cout << "would remove " << id << " (" << storage::to_string(info.metadata.state)
                      << ", idle " << config::format_duration_s(idle) << ")\n";
            ++removed;
            continue;
        }
        if (const auto ec = store->remove(id, nullptr)) {
            std::cerr << "bitsd sessions: purge: " << id << ": " << ec.message() << "\n";
            ++failed;
            continue;
        }
        std::cout << "removed " << id << " (" << storage::to_string(info.metadata.state) << ", idle "
                  << config::format_duration_s(idle) << ")\n";
        ++removed;
    }
    std::cout << (o.dry_run ? "would purge " : "purged ") << removed << " of " << sessions.size()
              << " sessions idle for at least " << config::format_duration_s(
                     static_cast<std::int64_t>(*older_than))
              << (skipped ? ", " + std::to_string(skipped) + " skipped" : std::string()) << "\n";
    if (failed > 0 || list_ec) return exit_code::failure;
    return exit_code::ok;
}

}  // namespace

int sessions_command(int argc, const char* const* argv) try {
    CLI::App app{"The upload sessions kept in data_dir (the same --config and --data-dir as the "
                 "daemon). list and show work while bitsd runs; cancel and purge need the "
                 "data directory to themselves (exit code 3 while a daemon holds it).",
                 "bitsd sessions"};
    app.require_subcommand(1);
    options o;
    app.add_option("--config", o.config_file, "the daemon's configuration file")->type_name("FILE");
    app.add_option("--data-dir", o.data_dir, "overrides the configuration's data_dir")->type_name("DIR");
    auto* list_cmd = app.add_subcommand("list", "one line per session: id, state, received/total, "
                                                "age, idle time, prefix, target");
    list_cmd->add_flag("--json", o.json_output, "a JSON array, one object per session (as show)");
    auto* show_cmd = app.add_subcommand("show", "one session as a JSON object");
    show_cmd->add_option("ID", o.id, "the session id, {GUID}")->required();
    auto* cancel_cmd = app.add_subcommand("cancel", "cancel a session as Cancel-Session does: "
                                                    "its bytes are deleted, a tombstone stays");
    cancel_cmd->add_option("ID", o.id, "the session id, {GUID}")->required();
    auto* purge_cmd = app.add_subcommand("purge", "remove sessions and tombstones idle for at "
                                                  "least DURATION");
    purge_cmd->add_option("--older-than", o.older_than, "e.g. 30d, 12h, 90m, 3600 (seconds)")
        ->type_name("DURATION")
        ->required();
    purge_cmd->add_flag("--dry-run", o.dry_run, "only print what would be removed");
    for (auto* sub : {list_cmd, show_cmd, cancel_cmd, purge_cmd}) sub->fallthrough();
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return exit_code::ok;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help();
        return exit_code::ok;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {  // --help of a subcommand
            std::cout << app.help("", CLI::AppFormatMode::All);
            return exit_code::ok;
        }
        return fail(exit_code::usage, std::string(e.what()) + " (see bitsd sessions --help)");
    }
    std::string error;
    const auto data_dir = data_dir_of(o, error);
    if (!data_dir) return fail(exit_code::usage, error);
    if (list_cmd->parsed()) return list(*data_dir, o);
    if (show_cmd->parsed()) return show(*data_dir, o);
    if (cancel_cmd->parsed()) return cancel(*data_dir, o);
    return purge(*data_dir, o);
} catch (const std::exception& e) {
    return fail(exit_code::failure, e.what());
}

}  // namespace bitsd::cli
