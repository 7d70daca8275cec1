#pragma once
// The default store: one directory per session, bytes in `data`, the rest in metadata.json.
//
//   <root>/sessions/<shard>/<ID>/data            the bytes received so far (append only)
//   <root>/sessions/<shard>/<ID>/metadata.json   session_metadata, replaced atomically
//   <root>/sessions/<shard>/<ID>/reply           the back-end's reply, when a delivery made one
//   <root>/cancelled-sessions.journal             one line per cancelled session (no directory)
//
// <ID> is the upper-case braced GUID, <shard> its first two hex digits in lower case. The
// received length is always the size of `data`: metadata never claims bytes.

#include "storage/cancelled_journal.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_store.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

namespace bitsd::storage {

// How a store holds its data directory. The daemon, and tools that change sessions, hold it
// exclusively (<root>/bitsd.lock). read_only is for tools that only look (`bitsd sessions
// list`): no lock, nothing created, to be used only with info() and list() while a daemon may
// run (metadata is replaced atomically and the received length is a stat, so a reader never
// sees half a write).
enum class store_access { exclusive, read_only };

class filesystem_store final : public session_store {
public:
    // Creates <root>/sessions if missing (exclusive access only).
    static std::unique_ptr<filesystem_store> open(const std::filesystem::path& root,
                                                  fsync_policy policy, std::error_code& ec,
                                                  store_access access = store_access::exclusive);

    // open() with store_access::read_only, for tools that only read a data_dir a running daemon
    // may own (`bitsd deliveries list`), and session_not_found when <root>/sessions does not
    // exist; call info(), list() and session_directory() only.
    static std::unique_ptr<filesystem_store> open_for_reading(const std::filesystem::path& root,
                                                              std::error_code& ec);

    std::error_code create(const session_metadata& metadata) override;
    std::error_code info(std::string_view id, session_info& out) override;
    std::error_code update(const session_metadata& metadata) override;
    std::unique_ptr<appender> open_append(std::string_view id, std::uint64_t offset,
                                          std::error_code& ec) override;
    std::error_code commit(std::string_view id, const destination& to, bool overwrite) override;
    std::error_code cancel(std::string_view id) override;
    std::error_code release(std::string_view id) override;
    std::error_code remove(std::string_view id, const destination* to) override;
    std::error_code list(const std::function<void(const session_info&)>& visit) override;
    std::error_code local_files(std::string_view id, session_files& out) override;

    // Where a session lives (for tests and tools). Empty for an invalid id.
    std::filesystem::path session_directory(std::string_view id) const;

private:
    struct location {
        std::string id;  // canonical, upper case
        std::filesystem::path dir;
    };

    filesystem_store(std::filesystem::path root, fsync_policy policy);

    bool locate(std::string_view id, location& out) const;
    // A session cancelled into the journal (whatever directory a crash may have left).
    bool find_cancelled(const location& where, session_info& out, std::error_code& ec) const;
    std::error_code read_any(const location& where, session_info& out) const;
    std::error_code place_session(const location& where, const session_metadata& metadata,
                                  bool with_data);
    std::error_code revive_cancelled(const location& where, const session_metadata& metadata);
    std::error_code read_session(const location& where, session_info& out) const;
    std::error_code write_metadata(const std::filesystem::path& dir,
                                   const session_metadata& metadata) const;
    std::error_code write_new_file(const std::filesystem::path& path, const std::string& bytes) const;
    std::error_code sync_directory(const std::filesystem::path& dir) const;
    std::error_code sync_directory(const platform::file_handle& dir) const;
    std::error_code create_directories(const std::filesystem::path& dir) const;

    std::error_code do_create(const session_metadata& metadata);
    std::error_code do_commit(const location& where, const destination& to, bool overwrite);
    std::error_code finish_commit(const location& where, session_metadata metadata,
                                  const std::string& destination);
    std::error_code move_data(const std::filesystem::path& data, const platform::file_handle& parent,
                              const std::string& name, const std::string& temp, bool overwrite,
                              bool resumed, bool& delivered) const;
    std::error_code copy_across(const std::filesystem::path& data, const platform::file_handle& parent,
                                const std::string& name, const std::string& temp,
                                bool overwrite) const;
    std::error_code do_cancel(const location& where);
    std::error_code do_remove(const location& where, const destination* to);
    std::error_code do_list(const std::function<void(const session_info&)>& visit);

    std::filesystem::path root_;
    std::filesystem::path sessions_;
    fsync_policy policy_;
    platform::file_handle root_lock_;  // <root>/bitsd.lock, locked for the store's life
    std::unique_ptr<cancelled_journal> cancelled_;
};

}  // namespace bitsd::storage
