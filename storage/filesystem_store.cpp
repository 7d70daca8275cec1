#include "storage/filesystem_store.hpp"

#include "storage/data_dir_layout.hpp"
#include "storage/destination_resolver.hpp"
#include "storage/error_guard.hpp"
#include "storage/filesystem_appender.hpp"
#include "storage/metadata_codec.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_id.hpp"
#include "storage/storage_error.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <exception>
#include <utility>
#include <vector>

namespace bitsd::storage {
namespace fs = std::filesystem;

namespace {

constexpr const char* data_name = "data";
constexpr const char* metadata_name = "metadata.json";
constexpr const char* reply_name = "reply";
constexpr const char* metadata_temp_name = "metadata.json.tmp";
// Suffixes of directories that are not (yet, or any more) sessions; list() skips them because
// they are not valid ids.
constexpr const char* staging_suffix = ".tmp";
constexpr const char* removing_suffix = ".removing";
// metadata.json is a few hundred bytes; anything this large was not written by us.
constexpr std::uint64_t max_metadata_size = 1u << 20;
constexpr std::size_t copy_buffer_size = 1u << 20;

bool is_missing(const std::error_code& ec) noexcept {
    return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

bool same_destination(const std::string& recorded, const fs::path& destination) {
    return fs::path(recorded).lexically_normal() == destination.lexically_normal();
}

fs::path parent_or_current(const fs::path& path) {
    fs::path parent = path.parent_path();
    return parent.empty() ? fs::path(".") : parent;
}

std::error_code read_whole(const fs::path& path, std::string& out, platform::file_status& status) {
    std::error_code ec;
    platform::file_handle file = platform::open_file(path, platform::open_mode::read, ec);
    if (ec) return ec;
    ec = platform::status_of(file, status);
    if (ec) return ec;
    if (status.size > max_metadata_size) return make_error_code(storage_errc::corrupt_metadata);
    out.assign(static_cast<std::size_t>(status.size), '\0');
    std::size_t filled = 0;
    while (filled < out.size()) {
        const std::size_t n = platform::read_some(file, out.data() + filled, out.size() - filled, ec);
        if (ec) return ec;
        if (n == 0) break;
        filled += n;
    }
    out.resize(filled);
    return {};
}

// True when both names hold the same bytes: the same file (a link left by an interrupted
// link+unlink move) or an identical copy (an interrupted cross-filesystem move). Neither name
// is followed if it is a symbolic link.
std::error_code same_content(const fs::path& a, platform::at b, bool& same) {
    same = false;
    std::error_code ec;
    platform::file_handle fa = platform::open_file(a, platform::open_mode::read, ec);
    if (ec) return ec;
    platform::file_handle fb = platform::open_file(b, platform::open_mode::read, ec);
    if (ec) return ec;
    platform::file_status sa, sb;
    if ((ec = platform::status_of(fa, sa)) || (ec = platform::status_of(fb, sb))) return ec;
    if (sa.device == sb.device && sa.inode == sb.inode) {
        same = true;
        return {};
    }
    if (sa.size != sb.size) return {};
    std::vector<char> ba(64 * 1024), bb(64 * 1024);
    for (;;) {
        const std::size_t na = platform::read_some(fa, ba.data(), ba.size(), ec);
        if (ec) return ec;
        std::size_t nb = 0;
        while (nb < na) {  // read exactly as many bytes from b
            const std::size_t n = platform::read_some(fb, bb.data() + nb, na - nb, ec);
            if (ec) return ec;
            if (n == 0) return {};  // b shrank under us: not the same
            nb += n;
        }
        if (na == 0) break;
        if (std::memcmp(ba.data(), bb.data(), na) != 0) return {};
    }
    same = true;
    return {};
}

session_info info_of(const cancelled_session& record) {
    session_info info;
    info.metadata.id = record.id;
    info.metadata.url_prefix = record.url_prefix;
    info.metadata.target = record.target;
    info.metadata.owner = record.owner;
    info.metadata.created_unix = record.created_unix;
    info.metadata.state = session_state::cancelled;
    info.received = 0;
    info.last_activity_unix = record.cancelled_unix;
    return info;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction and helpers

filesystem_store::filesystem_store(fs::path root, fsync_policy policy)
    : root_(std::move(root)), sessions_(root_ / data_dir_layout::sessions), policy_(policy) {}

std::unique_ptr<filesystem_store> filesystem_store::open(const fs::path& root, fsync_policy policy,
                                                         std::error_code& ec, store_access access) {
    std::unique_ptr<filesystem_store> store;
    ec = guarded([&]() -> std::error_code {
        std::error_code local;
        // Absolute, so a later chdir() of the daemon does not move the store.
        const fs::path absolute = fs::absolute(root, local);
        if (local) return local;
        store.reset(new filesystem_store(absolute, policy));
        const bool writable = access == store_access::exclusive;
        if (writable) {
            if ((local = store->create_directories(store->sessions_))) return local;
            // One store per data directory: a second bitsd on it would write the same sessions.
            store->root_lock_ = platform::open_file(absolute / data_dir_layout::lock_file, platform::open_mode::append, local);
            if (local) return local;
            if ((local = platform::lock_exclusive(store->root_lock_))) return local;
        }
        store->cancelled_ = cancelled_journal::open(absolute / data_dir_layout::cancelled_journal, policy, writable, local);
        return local;
    });
    if (ec) store.reset();
    return store;
}

std::unique_ptr<filesystem_store> filesystem_store::open_for_reading(const fs::path& root,
                                                                     std::error_code& ec) {
    auto store = open(root, fsync_policy::none, ec, store_access::read_only);
    if (ec) return nullptr;
    std::error_code local;
    if (!fs::is_directory(store->sessions_, local)) {
        ec = local && !is_missing(local) ? local : make_error_code(storage_errc::session_not_found);
        return nullptr;
    }
    return store;
}

std::unique_ptr<session_store> make_filesystem_store(const fs::path& root, fsync_policy policy,
                                                     std::error_code& ec) {
    return filesystem_store::open(root, policy, ec);
}

fs::path filesystem_store::session_directory(std::string_view id) const {
    location where;
    try {
        if (locate(id, where)) return where.dir;
    } catch (...) {
    }
    return {};
}

bool filesystem_store::locate(std::string_view id, location& out) const {
    auto canonical = normalize_session_id(id);
    if (!canonical) return false;
    out.dir = sessions_ / session_shard(*canonical) / *canonical;
    out.id = std::move(*canonical);
    return true;
}

bool filesystem_store::find_cancelled(const location& where, session_info& out,
                                      std::error_code& ec) const {
    ec.clear();
    if (!cancelled_->contains(where.id)) return false;
    cancelled_session record;
    ec = cancelled_->find(where.id, record);
    if (ec == storage_errc::session_not_found) {  // forgotten meanwhile
        ec.clear();
        return false;
    }
    if (!ec) out = info_of(record);
    return true;
}

std::error_code filesystem_store::read_any(const location& where, session_info& out) const {
    std::error_code ec;
    if (find_cancelled(where, out, ec)) return ec;
    return read_session(where, out);
}

std::error_code filesystem_store::sync_directory(const fs::path& dir) const {
    if (policy_ != fsync_policy::durable) return {};
    return platform::sync_directory(dir);
}

std::error_code filesystem_store::create_directories(const fs::path& dir) const {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return {};
    // Remember what is missing: each new directory's name lives in its parent, which is what
    // has to be synced for the directory to survive a power loss.
    std::vector<fs::path> missing;
    for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
        if (fs::exists(p, ec)) break;
        missing.push_back(p);
        if (p.parent_path() == p) break;
    }
    fs::create_directories(dir, ec);
    if (ec) return ec;
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if ((ec = sync_directory(parent_or_current(*it)))) return ec;
    }
    return {};
}

std::error_code filesystem_store::write_new_file(const fs::path& path, const std::string& bytes) const {
    std::error_code ec;
    platform::file_handle file = platform::open_file(path, platform::open_mode::create_truncate, ec);
    if (ec) return ec;
    std::size_t written = 0;
    if ((ec = platform::write_all(file, bytes.data(), bytes.size(), written))) return ec;
    if (policy_ == fsync_policy::durable && (ec = platform::sync_all(file))) return ec;
    return file.close();  // closed before any rename: Windows refuses to rename open files
}

std::error_code filesystem_store::write_metadata(const fs::path& dir,
                                                 const session_metadata& metadata) const {
    std::string text;
    std::error_code ec = encode_metadata(metadata, text);
    if (ec) return ec;
    const fs::path temp = dir / metadata_temp_name;
    ec = write_new_file(temp, text);
    if (!ec) ec = platform::rename_replace(temp, dir / metadata_name);
    if (ec) {
        (void)platform::remove_file(temp);
        return ec;
    }
    return sync_directory(dir);
}

std::error_code filesystem_store::read_session(const location& where, session_info& out) const {
    std::string text;
    platform::file_status metadata_status;
    std::error_code ec = read_whole(where.dir / metadata_name, text, metadata_status);
    if (ec) return is_missing(ec) ? make_error_code(storage_errc::session_not_found) : ec;

    session_metadata metadata;
    if ((ec = decode_metadata(text, metadata))) return ec;
    // Metadata copied into another session's directory is not that session's.
    if (ascii_upper(metadata.id) != where.id) return make_error_code(storage_errc::corrupt_metadata);
    metadata.id = where.id;

    // The received length is what is on disk, whatever metadata says.
    platform::file_status data_status;
    ec = platform::status_of(where.dir / data_name, data_status);
    if (ec && !is_missing(ec)) return ec;
    const bool has_data = !ec;

    out.metadata = std::move(metadata);
    out.received = has_data ? data_status.size : 0;
    out.last_activity_unix =
        has_data ? std::max(metadata_status.mtime_unix, data_status.mtime_unix) : metadata_status.mtime_unix;
    return {};
}

// ---------------------------------------------------------------------------------------------
// create / info / update / open_append

std::error_code filesystem_store::create(const session_metadata& metadata) {
    return guarded([&] { return do_create(metadata); });
}

std::error_code filesystem_store::do_create(const session_metadata& requested) {
    location where;
    if (!locate(requested.id, where)) return make_error_code(storage_errc::session_not_found);
    // A cancelled session's id stays taken until it is forgotten.
    if (cancelled_->contains(where.id)) return make_error_code(storage_errc::session_exists);
    session_metadata metadata = requested;
    metadata.id = where.id;
    metadata.state = session_state::receiving;
    if (metadata.created_unix == 0) metadata.created_unix = static_cast<std::int64_t>(std::time(nullptr));
    return place_session(where, metadata, true);
}

std::error_code filesystem_store::place_session(const location& where, const session_metadata& metadata,
                                                bool with_data) {
    std::string text;
    std::error_code ec = encode_metadata(metadata, text);
    if (ec) return ec;

    const fs::path shard = where.dir.parent_path();
    if ((ec = create_directories(shard))) return ec;

    // An empty directory is what an interrupted remove() can leave; it is not a session.
    if (fs::exists(where.dir, ec)) {
        if (!fs::is_directory(where.dir, ec) || !fs::is_empty(where.dir, ec) || ec) {
            return make_error_code(storage_errc::session_exists);
        }
    }

    // Build the session in a staging directory and rename it into place, so a crash never
    // leaves a session directory without metadata.
    const fs::path staging = shard / (where.id + staging_suffix);
    fs::remove_all(staging, ec);  // a previous create that crashed
    if (ec) return ec;
    fs::create_directory(staging, ec);
    if (ec) return ec;
    const auto abandon = [&](std::error_code failure) {
        std::error_code ignored;
        fs::remove_all(staging, ignored);
        return failure;
    };
    if (with_data && (ec = write_new_file(staging / data_name, std::string()))) return abandon(ec);
    if ((ec = write_new_file(staging / metadata_name, text))) return abandon(ec);
    if ((ec = sync_directory(staging))) return abandon(ec);
    // rename(2) replaces only an empty directory: a session created meanwhile wins.
    if ((ec = platform::rename_replace(staging, where.dir))) {
        if (ec == std::errc::file_exists || ec == std::errc::directory_not_empty) {
            return abandon(make_error_code(storage_errc::session_exists));
        }
        return abandon(ec);
    }
    return sync_directory(shard);
}

std::error_code filesystem_store::info(std::string_view id, session_info& out) {
    return guarded([&] {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        return read_any(where, out);
    });
}

std::error_code filesystem_store::update(const session_metadata& metadata) {
    return guarded([&] {
        location where;
        if (!locate(metadata.id, where)) return make_error_code(storage_errc::session_not_found);
        session_metadata replacement = metadata;
        replacement.id = where.id;
        if (cancelled_->contains(where.id)) return revive_cancelled(where, replacement);
        // Only an existing session can be updated; its current metadata need not be readable
        // (replacing it is how a tool would repair it).
        platform::file_status status;
        const std::error_code ec = platform::status_of(where.dir / metadata_name, status);
        if (ec) return is_missing(ec) ? make_error_code(storage_errc::session_not_found) : ec;
        return write_metadata(where.dir, replacement);
    });
}

std::error_code filesystem_store::revive_cancelled(const location& where, const session_metadata& metadata) {
    // A cancelled session given new metadata (the delivery's release records `closed`) becomes
    // a directory again, without bytes. The directory first, then the journal forgets it: a
    // crash in between leaves it cancelled, which is what it was.
    std::error_code ec = do_remove(where, nullptr);  // what a crash may have left
    if (ec && ec != storage_errc::session_not_found) return ec;
    if ((ec = place_session(where, metadata, false))) return ec;
    ec = cancelled_->forget(where.id);
    return ec == storage_errc::session_not_found ? std::error_code{} : ec;
}

std::unique_ptr<appender> filesystem_store::open_append(std::string_view id, std::uint64_t offset,
                                                        std::error_code& ec) {
    std::unique_ptr<appender> result;
    ec = guarded([&]() -> std::error_code {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        session_info info;
        std::error_code local = read_any(where, info);
        if (local) return local;
        if (info.metadata.state != session_state::receiving) {
            return make_error_code(storage_errc::wrong_state);
        }
        platform::file_handle file =
            platform::open_file(where.dir / data_name, platform::open_mode::append, local);
        if (local) return local;
        // The length of the open file, not of an earlier stat: this is where the bytes will go.
        platform::file_status status;
        if ((local = platform::status_of(file, status))) return local;
        if (status.size != offset) return make_error_code(storage_errc::offset_mismatch);
        result = std::make_unique<filesystem_appender>(std::move(file), offset, policy_);
        return {};
    });
    if (ec) result.reset();
    return result;
}

// ---------------------------------------------------------------------------------------------
// commit

std::error_code filesystem_store::commit(std::string_view id, const destination& to,
                                         bool overwrite) {
    return guarded([&] {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        return do_commit(where, to, overwrite);
    });
}

std::error_code filesystem_store::do_commit(const location& where, const destination& to,
                                            bool overwrite) {
    if (!to.valid()) return std::make_error_code(std::errc::invalid_argument);
    session_info info;
    std::error_code ec = read_any(where, info);
    if (ec) return ec;
    const session_metadata original = info.metadata;
    // Recorded for logs and tools, and compared below; never used to reach the file system:
    // the caller recomputes `to` from what it trusts.
    const std::string joined = to.joined().string();
    const bool same = same_destination(original.destination, joined);

    switch (original.state) {
    case session_state::cancelled: return make_error_code(storage_errc::wrong_state);
    case session_state::closed:
        // A repeated commit of the same upload succeeds; another destination is a new request.
        return same ? std::error_code{} : make_error_code(storage_errc::wrong_state);
    case session_state::receiving:
    case session_state::committing: break;
    }

    const fs::path data = where.dir / data_name;
    platform::file_status data_status;
    ec = platform::status_of(data, data_status);
    if (ec && !is_missing(ec)) return ec;
    const bool data_present = !ec;
    const bool resumed = original.state == session_state::committing;

    if (resumed && !data_present) {
        // The move completed before an interruption: only the bookkeeping is left.
        if (!same) return make_error_code(storage_errc::wrong_state);
        platform::file_handle parent = open_destination_parent(to, false, false, ec);
        if (ec) return destination_error(ec);
        if ((ec = sync_directory(parent))) return ec;
        return finish_commit(where, original, joined);
    }

    if (!data_present) {
        // A `receiving` session without its data file holds no bytes (a Cancel deleted them
        // and could not write its tombstone, or crashed in between): it is the empty file.
        if ((ec = write_new_file(data, std::string()))) return ec;
    }

    // Everything below either completes or puts the session back to `receiving` with its bytes
    // and without a temporary copy beside the destination.
    platform::file_handle parent;
    const std::string temp = temporary_name(where.id);
    bool intent_written = false;
    const auto roll_back = [&](std::error_code failure) {
        if (parent.is_open()) (void)platform::remove_file(platform::at{&parent, temp});
        if (intent_written || original.state != session_state::receiving) {
            session_metadata restored = original;
            restored.state = session_state::receiving;
            (void)write_metadata(where.dir, restored);
        }
        return failure;
    };

    // (1) Persist the intent, so a crash after the move is finished, not lost. A resumed commit
    // to the same place has it already (and rewriting it would count as activity, so a commit
    // that keeps failing would never expire).
    session_metadata committing = original;
    committing.state = session_state::committing;
    committing.destination = joined;
    if (!(resumed && same)) {
        if ((ec = write_metadata(where.dir, committing))) return roll_back(ec);
        intent_written = true;
    }

    // (2) The directory that holds the name, created where missing, reached without
    // following a link; and the name itself, which must not be a link or a directory.
    parent = open_destination_parent(to, true, policy_ == fsync_policy::durable, ec);
    if (ec) return roll_back(destination_error(ec));
    bool exists = false;
    if ((ec = check_final_name(parent, to.names.back(), exists))) return roll_back(destination_error(ec));

    // (3) The bytes.
    bool delivered = false;
    ec = move_data(data, parent, to.names.back(), temp, overwrite, resumed, delivered);
    if (ec) {
        // Delivered but not cleaned up: stay `committing`; commit() again finishes.
        return delivered ? ec : roll_back(ec);
    }

    // (4) The destination's new name.
    if ((ec = sync_directory(parent))) return ec;

    // (5) Done: the session stays as a tombstone.
    return finish_commit(where, committing, joined);
}

std::error_code filesystem_store::sync_directory(const platform::file_handle& dir) const {
    if (policy_ != fsync_policy::durable) return {};
    return platform::sync_directory(dir);
}

std::error_code filesystem_store::finish_commit(const location& where, session_metadata metadata,
                                                const std::string& destination) {
    metadata.state = session_state::closed;
    metadata.destination = destination;
    return write_metadata(where.dir, metadata);
}

std::error_code filesystem_store::move_data(const fs::path& data, const platform::file_handle& parent,
                                            const std::string& name, const std::string& temp,
                                            bool overwrite, bool resumed, bool& delivered) const {
    delivered = false;
    const platform::at target{&parent, name};
    // After an interrupted commit the destination may already hold our bytes (a link or a copy
    // whose source was not yet unlinked): then the move is done and only `data` must go.
    // Otherwise the name is taken: by a file (destination_exists), or by what can never be
    // replaced by one.
    const auto finish_if_ours = [&]() -> std::error_code {
        bool exists = false;
        std::error_code ec = check_final_name(parent, name, exists);
        if (ec) return destination_error(ec);
        bool same = false;
        if (resumed && exists && !(ec = same_content(data, target, same)) && same) {
            delivered = true;
            ec = platform::remove_file(data);
            return is_missing(ec) ? std::error_code{} : ec;
        }
        return make_error_code(storage_errc::destination_exists);
    };

    std::error_code ec = overwrite ? platform::rename_replace(platform::at{nullptr, data}, target)
                                   : platform::rename_no_replace(platform::at{nullptr, data}, target);
    if (!ec) {
        delivered = true;
        return {};
    }
    if (ec == std::errc::file_exists && !overwrite) return finish_if_ours();
    if (ec != std::errc::cross_device_link) return destination_error(ec);

    // Another filesystem: copy. Refuse early rather than after copying gigabytes.
    if (!overwrite) {
        platform::entry_type type = platform::entry_type::missing;
        if ((ec = platform::type_of(target, type))) return ec;
        if (type != platform::entry_type::missing) return finish_if_ours();
    }
    if ((ec = copy_across(data, parent, name, temp, overwrite))) {
        return ec == std::errc::file_exists && !overwrite ? finish_if_ours() : destination_error(ec);
    }
    delivered = true;
    ec = platform::remove_file(data);
    return is_missing(ec) ? std::error_code{} : ec;
}

std::error_code filesystem_store::copy_across(const fs::path& data, const platform::file_handle& parent,
                                              const std::string& name, const std::string& temp,
                                              bool overwrite) const {
    // The copy is built under a hidden name beside the destination, then renamed into place,
    // so readers of the destination never see a partial file. The name is the session's own
    // (temporary_name): fixed length, so a 255-byte file name still fits, and never shared by
    // two sessions committing to one destination at once.
    const platform::at temp_at{&parent, temp};
    std::error_code ec;
    {
        platform::file_handle source = platform::open_file(data, platform::open_mode::read, ec);
        if (ec) return ec;
        // Left over from a crash of this same session's commit (it holds the session lock).
        (void)platform::remove_file(temp_at);
        platform::file_handle target = platform::open_file(temp_at, platform::open_mode::create_new, ec);
        if (ec) return ec;
        std::vector<char> buffer(copy_buffer_size);
        for (;;) {
            const std::size_t n = platform::read_some(source, buffer.data(), buffer.size(), ec);
            if (ec) break;
            if (n == 0) break;
            std::size_t written = 0;
            if ((ec = platform::write_all(target, buffer.data(), n, written))) break;
        }
        if (!ec && policy_ == fsync_policy::durable) ec = platform::sync_data(target);
        const std::error_code closed = target.close();
        if (!ec) ec = closed;
    }
    if (!ec) {
        const platform::at to{&parent, name};
        ec = overwrite ? platform::rename_replace(temp_at, to) : platform::rename_no_replace(temp_at, to);
    }
    if (ec) (void)platform::remove_file(temp_at);
    return ec;
}

// ---------------------------------------------------------------------------------------------
// cancel / remove / list

std::error_code filesystem_store::cancel(std::string_view id) {
    return guarded([&] {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        return do_cancel(where);
    });
}

std::error_code filesystem_store::do_cancel(const location& where) {
    if (cancelled_->contains(where.id)) return {};  // cancelled before: nothing left to free
    session_info info;
    std::error_code ec = read_session(where, info);
    if (ec) return ec;
    session_metadata metadata = info.metadata;
    const fs::path data = where.dir / data_name;

    if (metadata.state == session_state::closed) return {};  // delivered: cancel cannot undo it
    // A session with a delivery record keeps its directory: that record is durable state a
    // journal line does not hold (the delivery's release cancels, then records `closed` with
    // it). Such sessions carry a finalised file, so they are never the Create/Cancel flood.
    const bool journal = metadata.delivery.state == delivery_state::none;
    cancelled_session record;
    record.id = where.id;
    record.url_prefix = metadata.url_prefix;
    record.target = metadata.target;
    record.owner = metadata.owner;
    record.created_unix = metadata.created_unix;
    record.cancelled_unix = static_cast<std::int64_t>(std::time(nullptr));
    // Once the journal has the line, the directory is no longer the session: it goes at once,
    // and if removing it fails, the journal still wins and the sweep's remove() retries.
    const auto drop_directory = [&] {
        (void)do_remove(where, nullptr);
        return std::error_code{};
    };

    if (metadata.state == session_state::committing) {
        platform::file_status status;
        ec = platform::status_of(data, status);
        if (ec && !is_missing(ec)) return ec;
        if (ec) {
            // The move already happened: the file is delivered, exactly as if closed. (Its
            // directory is synced by the commit that finishes it; the recorded destination is
            // never used to reach the file system.)
            return finish_commit(where, metadata, metadata.destination);
        }
        // Not a client's Cancel (the engine lets Cancel reach only receiving sessions). State
        // first, then the bytes: without bytes a `committing` session would count as delivered.
        if (journal && !cancelled_->record(record)) return drop_directory();
        metadata.state = session_state::cancelled;
        if ((ec = write_metadata(where.dir, metadata))) return ec;
        ec = platform::remove_file(data);
        if (ec && !is_missing(ec)) return ec;
        return sync_directory(where.dir);
    }

    // The bytes first, then the journal line: on a full disk the line may not fit, and a
    // client must still be able to give the space back. If the journal cannot take it, the
    // session stays a directory: a `cancelled` tombstone if its metadata can still be written,
    // else `receiving` with no bytes, which is harmless: its received length is 0, so a
    // Close-Session with a recorded total answers "incomplete" and never commits, a Fragment
    // must start at 0 again, a repeated Cancel cancels it again, and the sweep expires it like
    // any idle session. (Only a session that never received a byte and never recorded a total
    // could still be committed, as the empty file it already was.)
    ec = platform::remove_file(data);
    if (ec && !is_missing(ec)) return ec;
    (void)sync_directory(where.dir);  // the unlink; a failure here cannot bring the bytes back
    if (journal && !cancelled_->record(record)) return drop_directory();
    if (metadata.state != session_state::cancelled) {
        metadata.state = session_state::cancelled;
        (void)write_metadata(where.dir, metadata);  // it syncs the directory too
    }
    return {};
}

std::error_code filesystem_store::release(std::string_view id) {
    return guarded([&] {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        session_info info;
        std::error_code ec = read_any(where, info);
        if (ec) return ec;
        if (info.metadata.state == session_state::committing) return make_error_code(storage_errc::wrong_state);
        if (info.metadata.state != session_state::closed) {
            session_metadata metadata = info.metadata;
            metadata.state = session_state::closed;
            // Durable (write_metadata syncs the directory) before the bytes go.
            ec = cancelled_->contains(where.id) ? revive_cancelled(where, metadata)
                                                : write_metadata(where.dir, metadata);
            if (ec) return ec;
        }
        ec = platform::remove_file(where.dir / data_name);
        if (ec) return is_missing(ec) ? std::error_code{} : ec;
        return sync_directory(where.dir);
    });
}

std::error_code filesystem_store::local_files(std::string_view id, session_files& out) {
    location where;
    if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
    out.data = where.dir / data_name;
    out.reply = where.dir / reply_name;
    return {};
}

std::error_code filesystem_store::remove(std::string_view id, const destination* to) {
    return guarded([&] {
        location where;
        if (!locate(id, where)) return make_error_code(storage_errc::session_not_found);
        const bool journaled = cancelled_->contains(where.id);
        // The directory a crash may have left first, then the journal line: forgetting the
        // line first would let that directory count as a session again.
        std::error_code ec = do_remove(where, to);
        if (ec == storage_errc::session_not_found && journaled) ec.clear();
        if (ec || !journaled) return ec;
        ec = cancelled_->forget(where.id);
        return ec == storage_errc::session_not_found ? std::error_code{} : ec;
    });
}

std::error_code filesystem_store::do_remove(const location& where, const destination* to) {
    std::error_code ec;
    if (!fs::exists(where.dir, ec)) {
        return ec && !is_missing(ec) ? ec : make_error_code(storage_errc::session_not_found);
    }
    // An abandoned copy first: if deleting it fails, the session stays, and so does the only
    // way to find the copy again (its id).
    if (to != nullptr && (ec = discard_temporary(*to, where.id))) return ec;
    // Rename first so the session disappears at once; deleting the files can then take its
    // time (and a crash halfway leaves junk that list() ignores, not half a session). Callers
    // hold the session's lock, so no appender has `data` open.
    const fs::path shard = where.dir.parent_path();
    const fs::path doomed = shard / (where.id + removing_suffix);
    fs::remove_all(doomed, ec);
    if (ec) return ec;
    if ((ec = platform::rename_replace(where.dir, doomed))) {
        return is_missing(ec) ? make_error_code(storage_errc::session_not_found) : ec;
    }
    if ((ec = sync_directory(shard))) return ec;
    fs::remove_all(doomed, ec);
    return ec;
}

std::error_code filesystem_store::list(const std::function<void(const session_info&)>& visit) {
    // The visitor's own exceptions are the caller's business: carry them past the guard.
    std::exception_ptr visitor_failure;
    const std::error_code ec = guarded([&] {
        return do_list([&](const session_info& info) {
            try {
                visit(info);
            } catch (...) {
                visitor_failure = std::current_exception();
                throw;
            }
        });
    });
    if (visitor_failure) std::rethrow_exception(visitor_failure);
    return ec;
}

std::error_code filesystem_store::do_list(const std::function<void(const session_info&)>& visit) {
    std::error_code last_failure;
    std::error_code ec;
    const fs::directory_iterator end;
    fs::directory_iterator shards(sessions_, ec);
    if (ec) return ec;
    // Two levels and per session one small read and one stat: nothing else, so a sweep over
    // 100k sessions stays cheap.
    for (; shards != end; shards.increment(ec)) {
        if (ec) return ec;
        std::error_code type_ec;
        if (!shards->is_directory(type_ec) || type_ec) continue;
        const std::string shard_name = shards->path().filename().string();
        std::error_code shard_ec;
        fs::directory_iterator sessions(shards->path(), shard_ec);
        for (; !shard_ec && sessions != end; sessions.increment(shard_ec)) {
            const std::string name = sessions->path().filename().string();
            // Staging and removal leftovers, stray files, misplaced or lower-case names: skip.
            if (!is_valid_session_id(name) || ascii_upper(name) != name ||
                session_shard(name) != shard_name) {
                continue;
            }
            if (cancelled_->contains(name)) continue;  // a leftover: the journal lists it
            session_info info;
            const std::error_code session_ec = read_session(location{name, sessions->path()}, info);
            if (session_ec == storage_errc::session_not_found) continue;  // removed meanwhile
            if (session_ec) {
                last_failure = session_ec;
                continue;
            }
            visit(info);
        }
        if (shard_ec && !is_missing(shard_ec)) last_failure = shard_ec;
    }
    if (ec) return ec;
    const std::error_code journal_ec =
        cancelled_->for_each([&](const cancelled_session& record) { visit(info_of(record)); });
    if (journal_ec) last_failure = journal_ec;
    return last_failure;
}

}  // namespace bitsd::storage
