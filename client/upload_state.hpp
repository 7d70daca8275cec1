#pragma once
// What bits-upload remembers between runs, so the same command continues where the server's
// bytes end: a small JSON file, by default "<FILE>.bits-upload" beside the source.
//   {"version":1,"url":...,"file":"/abs/path","size":N,"mtime":NS,"session_id":"{...}",
//    "offset":N,"fragment_size":N,"host_override":"node7"|null, ...}
// It is replaced atomically after every acknowledged fragment and deleted after Close-Session.

#include "client/source_file.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace bitsd::client {

inline constexpr int upload_state_version = 1;

struct upload_state {
    std::string url;   // the destination, without credentials
    std::string file;  // absolute path of the source
    file_identity source;
    std::optional<std::string> session_id;
    std::uint64_t offset = 0;         // the server's acknowledged offset
    std::uint64_t fragment_size = 0;  // shrunk by 413s; kept so a resume does not repeat them
    std::optional<std::string> host_override;  // BITS-Host-Id in use
    std::optional<std::uint64_t> host_fallback_timeout_s;
    std::optional<std::string> reply_url;      // from the final Ack, until the reply is fetched

    friend bool operator==(const upload_state& a, const upload_state& b) {
        return a.url == b.url && a.file == b.file && a.source == b.source &&
               a.session_id == b.session_id && a.offset == b.offset &&
               a.fragment_size == b.fragment_size && a.host_override == b.host_override &&
               a.host_fallback_timeout_s == b.host_fallback_timeout_s &&
               a.reply_url == b.reply_url;
    }
};

std::string encode_state(const upload_state& state);

struct decoded_state {
    std::optional<upload_state> state;
    std::string error;  // why the text is not a state file, when !state
};
decoded_state decode_state(std::string_view json);

// Why a stored state cannot be continued; empty when it can.
std::string state_mismatch(const upload_state& stored, std::string_view url,
                           std::string_view file, const file_identity& source);

std::filesystem::path default_state_path(const std::filesystem::path& source);

class state_file {
public:
    explicit state_file(std::filesystem::path path);

    const std::filesystem::path& path() const noexcept { return path_; }

    // nullopt and no error when there is no file.
    std::optional<upload_state> load(std::string& error) const;
    std::error_code save(const upload_state& state) const;
    std::error_code remove() const;

private:
    std::filesystem::path path_;
};

}  // namespace bitsd::client
