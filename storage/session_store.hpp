#pragma once
// The storage core: a small interface every store implements (filesystem today, an
// S3-compatible object store later). Optional capabilities (locking) live apart, in
// session_locks.hpp, the way tusd splits its data store from its locker.
//
// Thread safety: every method may be called from any thread. Callers serialise operations on
// one session id themselves (session_locks); operations on different sessions run in parallel.

#include "storage/destination.hpp"
#include "storage/session_record.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::storage {

// When bytes and metadata are forced to stable storage.
enum class fsync_policy {
    durable,  // fdatasync data before append::finish() returns; fsync metadata + directory
    none,     // leave it to the kernel (fast; a power loss may lose acknowledged bytes)
};

// Streams bytes into a session at its current end. Obtained from session_store::open_append.
class appender {
public:
    virtual ~appender() = default;
    // Appends bytes. Returns an error (disk_full, io) and stops on the first failure.
    virtual std::error_code write(const void* data, std::size_t size) = 0;
    // Makes what was written durable per the fsync policy. Call before acknowledging.
    virtual std::error_code finish() = 0;
    // Offset of the next byte, i.e. the received length after the writes so far.
    virtual std::uint64_t offset() const noexcept = 0;
};

// Local files of a session, for stores that keep sessions on this host's file system.
struct session_files {
    std::filesystem::path data;   // the bytes received (read in place, never moved by this)
    std::filesystem::path reply;  // a file beside them for an answer to the uploader; may not exist
};

class session_store {
public:
    virtual ~session_store() = default;

    // An optional capability: the local paths of a session's files (whether or not the session
    // exists), for consumers that must name or read a file in place: a delivery by reference
    // hands the data path to the back-end, a delivery by value streams it, and the reply the
    // back-end wrote is served from `reply`. Both live in the session and go with remove().
    // A store without local files answers operation_not_supported (the default): an object
    // store (S3) would instead hand out an object URL or a presigned GET for the data and
    // take the reply as an object of its own, which needs a delivery that names URLs rather
    // than paths. Errors: session_not_found for an id that can never name a session.
    virtual std::error_code local_files(std::string_view id, session_files& out) {
        (void)id;
        (void)out;
        return std::make_error_code(std::errc::operation_not_supported);
    }

    // Stores a new session in state `receiving` with no bytes. session_exists if the id is taken.
    virtual std::error_code create(const session_metadata& metadata) = 0;

    // Reads metadata and derives `received` from the bytes stored. session_not_found if unknown.
    virtual std::error_code info(std::string_view id, session_info& out) = 0;

    // Replaces the metadata of an existing session atomically (e.g. to record the total).
    virtual std::error_code update(const session_metadata& metadata) = 0;

    // Opens the session's data for appending at `offset`, which must equal the stored length
    // (offset_mismatch otherwise). Only sessions in state `receiving` accept bytes.
    virtual std::unique_ptr<appender> open_append(std::string_view id, std::uint64_t offset,
                                                  std::error_code& ec) = 0;

    // Moves the session's complete data to `to` and leaves the session as a `closed`
    // tombstone. Durable and resumable: state goes receiving -> committing -> closed, and a
    // commit interrupted by a crash is finished by calling commit() again (same destination).
    // Missing directories beneath to.root are created; no symbolic link is followed on the
    // way or at the final name. Failures that leave the bytes in the session (state back to
    // `receiving`, nothing delivered): destination_exists (overwrite off and a file is there),
    // destination_symlink, destination_unusable (a parent is a file, a directory at the name,
    // ...), disk_full. A cross-filesystem copy in progress lives beside the destination under
    // a fixed name derived from the session id; every failure deletes it.
    virtual std::error_code commit(std::string_view id, const destination& to, bool overwrite) = 0;

    // Frees the session's bytes, then remembers it as `cancelled` (info() answers with its
    // prefix, target and owner) until remove() forgets it. The filesystem store keeps no
    // directory for it, only a line of a journal (cancelled_journal.hpp); a store may forget
    // the oldest early when it remembers many. If the record cannot be written (a full disk)
    // the bytes are gone all the same and this succeeds: a session without bytes is harmless
    // (see the filesystem store).
    virtual std::error_code cancel(std::string_view id) = 0;

    // The back-end has the session's file and keeps it: records the session `closed` (its
    // metadata and delivery record stay), then frees its bytes. In that order, so that a crash
    // between the two leaves a closed session that still has bytes, which release() again
    // frees (a repeated Close-Session does), never a delivered session without bytes that is
    // still `receiving` (a Close-Session would find it incomplete). Works whatever is stored
    // (bytes already freed included); wrong_state for a session being committed.
    virtual std::error_code release(std::string_view id) = 0;

    // Forgets the session entirely (data, metadata, tombstone). With `to` (where the session
    // would commit, when the caller still knows it) a temporary copy an interrupted
    // cross-filesystem commit left beside it is deleted first.
    virtual std::error_code remove(std::string_view id, const destination* to) = 0;

    // Calls visit for every stored session (tombstones included). Sessions whose metadata
    // cannot be read are skipped and reported through the return value of the last failure.
    virtual std::error_code list(const std::function<void(const session_info&)>& visit) = 0;
};

// The default store: one directory per session under <root>/sessions, sharded by the first
// two hex digits of the id so 100k sessions do not sit in one folder. Creates root if missing.
std::unique_ptr<session_store> make_filesystem_store(const std::filesystem::path& root,
                                                     fsync_policy policy, std::error_code& ec);

// A store held in memory, for tests: same contract, nothing survives the process. Committed
// files are written to the real filesystem at the destination so callers can check them.
std::unique_ptr<session_store> make_memory_store();

}  // namespace bitsd::storage
