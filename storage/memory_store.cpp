#include "storage/memory_store.hpp"

#include "storage/destination_resolver.hpp"
#include "storage/error_guard.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_id.hpp"
#include "storage/storage_error.hpp"

#include <ctime>
#include <exception>
#include <utility>
#include <vector>

namespace bitsd::storage {
namespace fs = std::filesystem;

namespace {

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

class memory_appender final : public appender {
public:
    memory_appender(std::shared_ptr<memory_store::shared_state> state,
                    std::shared_ptr<memory_store::record> session, std::uint64_t offset)
        : state_(std::move(state)), session_(std::move(session)), offset_(offset) {}

    std::error_code write(const void* data, std::size_t size) override {
        return guarded([&]() -> std::error_code {
            const std::lock_guard<std::mutex> lock(state_->mutex);
            // Like writes to an unlinked file: a cancelled or moved session drops them.
            if (session_->data_present) {
                session_->data.append(static_cast<const char*>(data), size);
                session_->last_activity_unix = now_unix();
            }
            offset_ += size;
            return {};
        });
    }
    std::error_code finish() override { return {}; }
    std::uint64_t offset() const noexcept override { return offset_; }

private:
    std::shared_ptr<memory_store::shared_state> state_;
    std::shared_ptr<memory_store::record> session_;
    std::uint64_t offset_;
};

bool same_destination(const std::string& recorded, const fs::path& destination) {
    return fs::path(recorded).lexically_normal() == destination.lexically_normal();
}

// Writes the bytes under the session's hidden temporary name and renames it into place, as the
// filesystem store's cross-device path does (a reader never sees a partial file), resolving the
// destination the same way: no link followed, a link or a directory at the name refused.
std::error_code deliver(const std::string& bytes, const destination& to, const std::string& id,
                        bool overwrite) {
    std::error_code ec;
    platform::file_handle parent = open_destination_parent(to, true, false, ec);
    if (ec) return destination_error(ec);
    bool exists = false;
    if ((ec = check_final_name(parent, to.names.back(), exists))) return destination_error(ec);
    if (exists && !overwrite) return make_error_code(storage_errc::destination_exists);
    const std::string temp = temporary_name(id);
    const platform::at temp_at{&parent, temp};
    (void)platform::remove_file(temp_at);
    {
        platform::file_handle out = platform::open_file(temp_at, platform::open_mode::create_new, ec);
        if (ec) return destination_error(ec);
        std::size_t written = 0;
        ec = platform::write_all(out, bytes.data(), bytes.size(), written);
        const std::error_code closed = out.close();
        if (!ec) ec = closed;
    }
    if (!ec) {
        const platform::at target{&parent, to.names.back()};
        ec = overwrite ? platform::rename_replace(temp_at, target)
                       : platform::rename_no_replace(temp_at, target);
        if (ec == std::errc::file_exists && !overwrite) ec = make_error_code(storage_errc::destination_exists);
    }
    if (ec) (void)platform::remove_file(temp_at);
    return destination_error(ec);
}

}  // namespace

memory_store::memory_store() : state_(std::make_shared<shared_state>()) {}

std::unique_ptr<session_store> make_memory_store() { return std::make_unique<memory_store>(); }

std::shared_ptr<memory_store::record> memory_store::find(const std::string& id) const {
    const auto it = state_->sessions.find(id);
    return it == state_->sessions.end() ? nullptr : it->second;
}

session_info memory_store::info_of(const record& r) {
    session_info info;
    info.metadata = r.metadata;
    info.received = r.data_present ? r.data.size() : 0;
    info.last_activity_unix = r.last_activity_unix;
    return info;
}

std::error_code memory_store::create(const session_metadata& metadata) {
    return guarded([&] {
        auto id = normalize_session_id(metadata.id);
        if (!id) return make_error_code(storage_errc::session_not_found);
        const std::lock_guard<std::mutex> lock(state_->mutex);
        if (find(*id)) return make_error_code(storage_errc::session_exists);
        auto r = std::make_shared<record>();
        r->metadata = metadata;
        r->metadata.id = *id;
        r->metadata.state = session_state::receiving;
        if (r->metadata.created_unix == 0) r->metadata.created_unix = now_unix();
        r->last_activity_unix = now_unix();
        state_->sessions.emplace(std::move(*id), std::move(r));
        return std::error_code{};
    });
}

template <typename Operation>
std::error_code memory_store::with_record(std::string_view id, Operation&& operation) {
    return guarded([&] {
        const auto key = normalize_session_id(id);
        if (!key) return make_error_code(storage_errc::session_not_found);
        const std::lock_guard<std::mutex> lock(state_->mutex);
        const auto r = find(*key);
        if (!r) return make_error_code(storage_errc::session_not_found);
        return std::error_code(operation(r, *key));
    });
}

std::error_code memory_store::info(std::string_view id, session_info& out) {
    return with_record(id, [&](const std::shared_ptr<record>& r, const std::string&) {
        out = info_of(*r);
        return std::error_code{};
    });
}

std::error_code memory_store::update(const session_metadata& metadata) {
    return with_record(metadata.id, [&](const std::shared_ptr<record>& r, const std::string& key) {
        r->metadata = metadata;
        r->metadata.id = key;
        r->last_activity_unix = now_unix();
        return std::error_code{};
    });
}

std::unique_ptr<appender> memory_store::open_append(std::string_view id, std::uint64_t offset,
                                                    std::error_code& ec) {
    std::unique_ptr<appender> result;
    ec = with_record(id, [&](const std::shared_ptr<record>& r, const std::string&) {
        if (r->metadata.state != session_state::receiving) return make_error_code(storage_errc::wrong_state);
        if (!r->data_present) {  // as the filesystem store recreates a missing data file
            r->data.clear();
            r->data_present = true;
        }
        if (r->data.size() != offset) return make_error_code(storage_errc::offset_mismatch);
        result = std::make_unique<memory_appender>(state_, r, offset);
        return std::error_code{};
    });
    if (ec) result.reset();
    return result;
}

std::error_code memory_store::commit(std::string_view id, const destination& to, bool overwrite) {
    if (!to.valid()) return std::make_error_code(std::errc::invalid_argument);
    // Held across the file write: this store is for tests, simplicity beats parallelism.
    return with_record(id, [&](const std::shared_ptr<record>& r, const std::string& key) {
        const fs::path joined = to.joined();
        const bool same = same_destination(r->metadata.destination, joined);
        switch (r->metadata.state) {
        case session_state::cancelled: return make_error_code(storage_errc::wrong_state);
        case session_state::closed: return same ? std::error_code{} : make_error_code(storage_errc::wrong_state);
        case session_state::committing:
            if (!r->data_present) {  // moved already (state set by hand through update())
                if (!same) return make_error_code(storage_errc::wrong_state);
                r->metadata.state = session_state::closed;
                return std::error_code{};
            }
            break;
        case session_state::receiving: break;
        }
        const std::error_code ec = deliver(r->data, to, key, overwrite);
        if (ec) {
            r->metadata.state = session_state::receiving;  // bytes kept; nothing changed
            return ec;
        }
        r->data.clear();
        r->data.shrink_to_fit();
        r->data_present = false;
        r->metadata.state = session_state::closed;
        r->metadata.destination = joined.string();
        r->last_activity_unix = now_unix();
        return std::error_code{};
    });
}

void memory_store::drop_bytes(record& r) {
    r.data.clear();
    r.data.shrink_to_fit();
    r.data_present = false;
}

std::error_code memory_store::cancel(std::string_view id) {
    return with_record(id, [&](const std::shared_ptr<record>& r, const std::string&) {
        if (r->metadata.state == session_state::closed) return std::error_code{};
        if (r->metadata.state == session_state::committing && !r->data_present) {
            r->metadata.state = session_state::closed;  // delivered: cancel cannot undo it
            return std::error_code{};
        }
        if (r->metadata.state != session_state::cancelled) r->last_activity_unix = now_unix();
        r->metadata.state = session_state::cancelled;
        drop_bytes(*r);
        return std::error_code{};
    });
}

std::error_code memory_store::release(std::string_view id) {
    return with_record(id, [&](const std::shared_ptr<record>& r, const std::string&) {
        if (r->metadata.state == session_state::committing) return make_error_code(storage_errc::wrong_state);
        r->metadata.state = session_state::closed;
        drop_bytes(*r);
        return std::error_code{};
    });
}

std::error_code memory_store::remove(std::string_view id, const destination* to) {
    return guarded([&] {
        const auto key = normalize_session_id(id);
        if (!key) return make_error_code(storage_errc::session_not_found);
        const std::lock_guard<std::mutex> lock(state_->mutex);
        const auto it = state_->sessions.find(*key);
        if (it == state_->sessions.end()) return make_error_code(storage_errc::session_not_found);
        if (to != nullptr) {
            if (const auto ec = discard_temporary(*to, *key)) return ec;
        }
        it->second->data_present = false;  // a live appender's writes go nowhere now
        state_->sessions.erase(it);
        return std::error_code{};
    });
}

std::error_code memory_store::list(const std::function<void(const session_info&)>& visit) {
    // Snapshot under the lock, visit outside it: the visitor may call back into the store.
    std::vector<session_info> snapshot;
    const std::error_code ec = guarded([&] {
        const std::lock_guard<std::mutex> lock(state_->mutex);
        snapshot.reserve(state_->sessions.size());
        for (const auto& entry : state_->sessions) snapshot.push_back(info_of(*entry.second));
        return std::error_code{};
    });
    if (ec) return ec;
    for (const auto& info : snapshot) visit(info);
    return {};
}

}  // namespace bitsd::storage
