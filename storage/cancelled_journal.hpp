#pragma once
// What the filesystem store remembers of a cancelled session: one line of an append-only
// journal instead of a directory, so that a Create/Cancel flood costs neither directories nor
// inodes until the sessions expire (issue 9, item 4). A repeated Cancel-Session still answers
// 200 (the Decisions table), for which the session's URL, owner and time are all it takes.
//
//   {"cancelled":"{ID}","prefix":"/uploads","target":"/uploads/a.bin","owner":"alice",
//    "created":1699990000,"at":1700000000}
//   {"forget":"{ID}"}                      the sweep removed it (expired, or purged)
//
// In memory: per remembered session its 16-byte id, time and where its line is (about 80 bytes
// with the hash table); the strings are read back from the file when a request names it. At
// most `capacity` are remembered; beyond that the oldest are forgotten first (a repeated Cancel
// of one answers like an unknown session: it was no longer cancelled "recently"). Lines of
// forgotten sessions are compacted away (rewritten to a temporary file, renamed over) once they
// outnumber the live ones. A line torn by a crash is dropped when the journal is opened.
//
// Thread safety: every method may be called from any thread (one mutex).

#include "storage/session_store.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace bitsd::storage {

struct cancelled_session {
    std::string id;  // canonical "{GUID}", upper case
    std::string url_prefix;
    std::string target;
    std::string owner;
    std::int64_t created_unix = 0;
    std::int64_t cancelled_unix = 0;  // its last activity: the sweep expires it from here
};

class cancelled_journal {
public:
    static constexpr std::size_t default_capacity = 100000;

    // Loads `path` (missing: empty). writable: the journal may be appended to and compacted,
    // and a torn last line is cut off; read-only opens never change the file.
    static std::unique_ptr<cancelled_journal> open(const std::filesystem::path& path,
                                                   fsync_policy policy, bool writable,
                                                   std::error_code& ec,
                                                   std::size_t capacity = default_capacity);

    bool contains(std::string_view id) const;
    // session_not_found when not remembered.
    std::error_code find(std::string_view id, cancelled_session& out) const;
    // Appends the line (flushed per the policy) and remembers the session.
    std::error_code record(const cancelled_session& session);
    // session_not_found when not remembered.
    std::error_code forget(std::string_view id);
    // Every remembered session, oldest first.
    std::error_code for_each(const std::function<void(const cancelled_session&)>& visit) const;
    std::size_t size() const;

private:
    using key = std::array<unsigned char, 16>;
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept;
    };
    struct entry {
        std::uint64_t offset = 0;  // of its line in the file
        std::uint32_t length = 0;  // of that line, without the newline
    };

    cancelled_journal(std::filesystem::path path, fsync_policy policy, bool writable,
                      std::size_t capacity);

    static bool key_of(std::string_view id, key& out);
    std::error_code load();
    std::error_code append_line(const std::string& line, std::uint64_t& offset);
    std::error_code read_line(const entry& where, std::string& out) const;
    void remember(const key& id, const entry& where);
    std::error_code compact_if_worthwhile();
    std::error_code compact();

    std::filesystem::path path_;
    fsync_policy policy_;
    bool writable_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<key, entry, key_hash> index_;
    std::deque<std::pair<key, std::uint64_t>> order_;  // (id, line offset), oldest first; may
                                                       // name lines no longer remembered
    std::uint64_t end_ = 0;       // size of the file
    std::uint64_t dead_lines_ = 0;  // lines that no longer describe a remembered session
};

}  // namespace bitsd::storage
