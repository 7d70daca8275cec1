#include "client/upload_state.hpp"

#include "client/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>
#include <sstream>

namespace bitsd::client {
namespace {

using nlohmann::json;

template <typename T>
void put_optional(json& j, const char* key, const std::optional<T>& value) {
    if (value) {
        j[key] = *value;
    } else {
        j[key] = nullptr;
    }
}

template <typename T>
std::optional<T> get_optional(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<T>();
}

// nlohmann converts -1 to 2^64-1 without a word: sizes and offsets must be unsigned in the text.
std::uint64_t get_unsigned(const json& j, const char* key) {
    const auto& value = j.at(key);
    if (!value.is_number_unsigned()) {
        throw std::invalid_argument(std::string(key) + ": not an unsigned number");
    }
    return value.get<std::uint64_t>();
}

}  // namespace

std::string encode_state(const upload_state& state) {
    json j;
    j["version"] = upload_state_version;
    j["url"] = state.url;
    j["file"] = state.file;
    j["size"] = state.source.size;
    j["mtime"] = state.source.mtime_ns;
    put_optional(j, "session_id", state.session_id);
    j["offset"] = state.offset;
    j["fragment_size"] = state.fragment_size;
    put_optional(j, "host_override", state.host_override);
    put_optional(j, "host_fallback_timeout_s", state.host_fallback_timeout_s);
    put_optional(j, "reply_url", state.reply_url);
    return j.dump(2) + "\n";
}

decoded_state decode_state(std::string_view text) {
    decoded_state result;
    try {
        const auto j = json::parse(text);
        if (!j.is_object()) {
            result.error = "not a JSON object";
            return result;
        }
        if (j.value("version", 0) != upload_state_version) {
            result.error = "unknown state file version";
            return result;
        }
        upload_state s;
        s.url = j.at("url").get<std::string>();
        s.file = j.at("file").get<std::string>();
        s.source.size = get_unsigned(j, "size");
        s.source.mtime_ns = j.at("mtime").get<std::int64_t>();
        s.session_id = get_optional<std::string>(j, "session_id");
        s.offset = get_unsigned(j, "offset");
        s.fragment_size = j.contains("fragment_size") ? get_unsigned(j, "fragment_size") : 0;
        s.host_override = get_optional<std::string>(j, "host_override");
        s.host_fallback_timeout_s = get_optional<std::uint64_t>(j, "host_fallback_timeout_s");
        s.reply_url = get_optional<std::string>(j, "reply_url");
        if (s.offset > s.source.size) {
            result.error = "offset beyond the file's size";
            return result;
        }
        result.state = std::move(s);
    } catch (const std::exception& e) {  // json::exception, or ours from get_unsigned
        result.error = e.what();
    }
    return result;
}

std::string state_mismatch(const upload_state& stored, std::string_view url,
                           std::string_view file, const file_identity& source) {
    if (stored.file != file) return "it belongs to another file (" + stored.file + ")";
    if (stored.url != url) return "it was for another URL (" + stored.url + ")";
    if (stored.source.size != source.size) return "the file's size changed";
    if (stored.source.mtime_ns != source.mtime_ns) return "the file was modified";
    return {};
}

std::filesystem::path default_state_path(const std::filesystem::path& source) {
    auto path = source;
    path += ".bits-upload";
    return path;
}

state_file::state_file(std::filesystem::path path) : path_(std::move(path)) {}

std::optional<upload_state> state_file::load(std::string& error) const {
    error.clear();
    std::ifstream in(path_, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (std::filesystem::exists(path_, ec)) error = "cannot read " + path_.string();
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto decoded = decode_state(text.str());
    if (!decoded.state) {
        error = path_.string() + ": " + decoded.error;
        return std::nullopt;
    }
    return decoded.state;
}

std::error_code state_file::save(const upload_state& state) const {
    return write_file_atomically(path_, encode_state(state));
}

std::error_code state_file::remove() const {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return ec;
}

}  // namespace bitsd::client
