#include "storage/metadata_codec.hpp"

#include "storage/storage_error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <utility>

namespace bitsd::storage {
namespace {

using json = nlohmann::json;

bool read_string(const json& object, const char* key, std::string& out) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

}  // namespace

std::error_code encode_metadata(const session_metadata& metadata, std::string& out) {
    json object = {
        {"version", metadata_version},
        {"id", metadata.id},
        {"url_prefix", metadata.url_prefix},
        {"target", metadata.target},
        {"destination", metadata.destination},
        {"total", metadata.total ? json(*metadata.total) : json(nullptr)},
        {"state", to_string(metadata.state)},
        {"created_unix", metadata.created_unix},
    };
    if (!metadata.owner.empty()) object["owner"] = metadata.owner;
    try {
        out = object.dump(2);
    } catch (const json::type_error&) {
        // dump() refuses invalid UTF-8 (error 316).
        return std::make_error_code(std::errc::illegal_byte_sequence);
    }
    out += '\n';
    return {};
}

std::error_code decode_metadata(std::string_view text, session_metadata& out) {
    const auto corrupt = make_error_code(storage_errc::corrupt_metadata);
    // No exceptions: a torn or foreign file is an expected input here.
    const json object = json::parse(text.begin(), text.end(), nullptr, false);
    if (object.is_discarded() || !object.is_object()) return corrupt;

    const auto version = object.find("version");
    if (version == object.end() || !version->is_number_integer() ||
        version->get<std::int64_t>() != metadata_version) {
        return corrupt;
    }

    session_metadata metadata;
    std::string state_text;
    if (!read_string(object, "id", metadata.id) ||
        !read_string(object, "url_prefix", metadata.url_prefix) ||
        !read_string(object, "target", metadata.target) ||
        !read_string(object, "destination", metadata.destination) ||
        !read_string(object, "state", state_text)) {
        return corrupt;
    }
    const auto state = session_state_from_string(state_text);
    if (!state) return corrupt;
    metadata.state = *state;

    const auto total = object.find("total");
    if (total == object.end()) return corrupt;
    if (total->is_number_unsigned()) {
        metadata.total = total->get<std::uint64_t>();
    } else if (!total->is_null()) {
        return corrupt;  // negative, fractional or not a number
    }

    const auto created = object.find("created_unix");
    if (created == object.end() || !created->is_number_integer()) return corrupt;
    if (created->is_number_unsigned() &&
        created->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return corrupt;
    }
    metadata.created_unix = created->get<std::int64_t>();

    // Optional: sessions stored before owners were recorded have none.
    if (object.contains("owner") && !read_string(object, "owner", metadata.owner)) return corrupt;

    out = std::move(metadata);
    return {};
}

}  // namespace bitsd::storage
