// `bitsd deliveries list [--dead|--all]` and `bitsd deliveries retry ID`, with the daemon's own
// --config / --data-dir to find the data_dir.
//
// The daemon holds an exclusive lock on <data_dir>/bitsd.lock and is the only writer of its
// sessions' metadata. So:
//   - list reads the sessions without the lock (each metadata.json is replaced atomically, so a
//     read sees the old or the new record, never half of one);
//   - retry first checks that the delivery is dead-lettered, then takes the lock: when it gets
//     it (no daemon), it moves the record to `finalised`, due now, itself, and the next start
//     delivers it; when a daemon holds it, it drops a request file in
//     <data_dir>/delivery-retries/ that the daemon's outbox applies within a second or two.

#include "main/deliveries_command.hpp"

#include "config/command_line.hpp"
#include "delivery/outbox_transitions.hpp"
#include "server/delivery_outbox.hpp"
#include "storage/data_dir_layout.hpp"
#include "storage/filesystem_store.hpp"
#include "storage/session_id.hpp"
#include "storage/storage_error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace bitsd::cli {
namespace {

namespace fs = std::filesystem;
using storage::delivery_state;

const char* const usage =
    "usage: bitsd deliveries list [--dead|--all] [--config FILE] [--data-dir DIR]\n"
    "       bitsd deliveries retry ID [--config FILE] [--data-dir DIR]\n"
    "\n"
    "list   deliveries still owed (finalised, delivering) and dead-lettered ones;\n"
    "       --dead: dead-lettered only; --all: delivered ones too\n"
    "retry  moves a dead-lettered delivery back to finalised, due now (attempts kept);\n"
    "       a running bitsd picks it up within a few seconds, otherwise the next start does\n";

std::string store_problem(const fs::path& data_dir, const std::error_code& ec) {
    if (ec == storage::storage_errc::session_not_found) {
        return "\"" + data_dir.string() + "\" is no bitsd data_dir (no sessions/ folder in it)";
    }
    return "cannot read the data_dir \"" + data_dir.string() + "\": " + ec.message();
}

std::string utc_time(std::int64_t unix_time) {
    if (unix_time <= 0) return "-";
    const std::time_t t = static_cast<std::time_t>(unix_time);
    std::tm tm{};
#ifdef _WIN32  // the Windows CRT's gmtime_s, argument order reversed (as server/reply_server.cpp)
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

int fail(const std::string& message, int code = 1) {
    std::cerr << "bitsd deliveries: " << message << "\n";
    return code;
}

int list(const fs::path& data_dir, bool dead_only, bool all) {
    std::error_code ec;
    auto store = storage::filesystem_store::open_for_reading(data_dir, ec);
    if (!store) {
        return fail(store_problem(data_dir, ec));
    }
    std::vector<storage::session_metadata> rows;
    ec = store->list([&](const storage::session_info& info) {
        const auto state = info.metadata.delivery.state;
        if (state == delivery_state::none) return;
        if (dead_only && state != delivery_state::dead_lettered) return;
        if (!all && state == delivery_state::delivered) return;
        rows.push_back(info.metadata);
    });
    if (ec) std::cerr << "bitsd deliveries: some sessions could not be read: " << ec.message() << "\n";
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return a.delivery.finalised_unix != b.delivery.finalised_unix
                   ? a.delivery.finalised_unix < b.delivery.finalised_unix
                   : a.id < b.id;
    });
    std::printf("%-38s  %-13s  %8s  %-20s  %s\n", "ID", "STATE", "ATTEMPTS", "NEXT ATTEMPT (UTC)",
                "LAST ERROR");
    for (const auto& m : rows) {
        const auto& d = m.delivery;
        const bool scheduled = d.state == delivery_state::finalised;
        std::printf("%-38s  %-13s  %8u  %-20s  %s\n", m.id.c_str(), storage::to_string(d.state),
                    static_cast<unsigned>(d.attempts),
                    (scheduled ? utc_time(d.next_attempt_unix) : std::string("-")).c_str(),
                    d.last_error.empty() ? "-" : d.last_error.c_str());
    }
    return ec ? 1 : 0;
}

int retry(const fs::path& data_dir, const std::string& given_id) {
    const auto id = storage::normalize_session_id(given_id);
    if (!id) return fail("\"" + given_id + "\" is not a session id ({XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX})", 2);
    std::error_code ec;
    {
        auto reader = storage::filesystem_store::open_for_reading(data_dir, ec);
        if (!reader) {
            return fail(store_problem(data_dir, ec));
        }
        storage::session_info info;
        if ((ec = reader->info(*id, info))) return fail(*id + ": " + ec.message());
        const auto state = info.metadata.delivery.state;
        if (state != delivery_state::dead_lettered) {
            return fail(*id + ": the delivery is " + storage::to_string(state) +
                        ", not dead_lettered: nothing to retry");
        }
    }

    auto store = storage::filesystem_store::open(data_dir, storage::fsync_policy::durable, ec);
    if (!store && ec == storage::storage_errc::store_in_use) {
        // A daemon owns the data_dir: ask it. The request is an empty file named after the
        // session; the outbox applies it under the session's lock and deletes it.
        const fs::path dir = data_dir / server::delivery_outbox::retry_requests_name;
        fs::create_directories(dir, ec);
        if (ec) return fail("cannot create \"" + dir.string() + "\": " + ec.message());
        const fs::path request = dir / *id;
        std::ofstream file(request, std::ios::binary | std::ios::trunc);
        if (!file) return fail("cannot write \"" + request.string() + "\"");
        file.close();
        std::cout << *id << ": retry requested; the running bitsd (it holds "
                  << (data_dir / storage::data_dir_layout::lock_file).string()
                  << ") moves it to finalised and delivers it within a few seconds\n";
        return 0;
    }
    if (!store) return fail("cannot open the session store in \"" + data_dir.string() + "\": " + ec.message());
    storage::session_info info;
    if ((ec = store->info(*id, info))) return fail(*id + ": " + ec.message());
    if (info.metadata.delivery.state != delivery_state::dead_lettered) {
        return fail(*id + ": the delivery is " + std::string(storage::to_string(info.metadata.delivery.state)) +
                    ", not dead_lettered: nothing to retry");
    }
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    info.metadata.delivery = delivery::requeue(info.metadata.delivery, now);
    if ((ec = store->update(info.metadata))) return fail(*id + ": cannot update: " + ec.message());
    std::cout << *id << ": dead_lettered -> finalised (" << info.metadata.delivery.attempts
              << " attempts so far); bitsd delivers it when it next starts\n";
    return 0;
}

}  // namespace

int run_deliveries_command(int argc, const char* const* argv) {
    std::vector<std::string> args(argv + 2, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        (args.empty() ? std::cerr : std::cout) << usage;
        return args.empty() ? 2 : 0;
    }
    const std::string action = args[0];
    if (action != "list" && action != "retry") return fail("unknown action \"" + action + "\"\n" + usage, 2);

    bool dead_only = false;
    bool all = false;
    std::vector<std::string> positional;
    // What the daemon's own parser reads (--config, --data-dir): the data_dir is found exactly
    // as the daemon finds it.
    std::vector<std::string> passed{argv[0]};
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        } else if (a == "--dead" && action == "list") {
            dead_only = true;
        } else if (a == "--all" && action == "list") {
            all = true;
        } else if ((a == "--config" || a == "--data-dir") && i + 1 < args.size()) {
            passed.push_back(a);
            passed.push_back(args[++i]);
        } else if (a.rfind("--config=", 0) == 0 || a.rfind("--data-dir=", 0) == 0) {
            passed.push_back(a);
        } else if (!a.empty() && a[0] == '-') {
            return fail("unknown option \"" + a + "\"\n" + usage, 2);
        } else {
            positional.push_back(a);
        }
    }
    if (dead_only && all) return fail("--dead and --all exclude each other", 2);
    if (action == "list" && !positional.empty()) return fail("list takes no ID\n" + std::string(usage), 2);
    if (action == "retry" && positional.size() != 1) return fail("retry takes one ID\n" + std::string(usage), 2);

    std::vector<const char*> pointers;
    for (const auto& p : passed) pointers.push_back(p.c_str());
    pointers.push_back(nullptr);
    auto parsed = config::parse_command_line(static_cast<int>(passed.size()), pointers.data());
    if (parsed.action == config::command_action::exit_error) return fail(parsed.output, 2);

    const fs::path data_dir = parsed.config.data_dir;
    return action == "list" ? list(data_dir, dead_only, all) : retry(data_dir, positional[0]);
}

}  // namespace bitsd::cli
