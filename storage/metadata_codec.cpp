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

// Optional members of the delivery object: absent keeps the default, a wrong type is corrupt.
bool read_optional_string(const json& object, const char* key, std::string& out) {
    const auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool read_optional_bool(const json& object, const char* key, bool& out) {
    const auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_boolean()) return false;
    out = it->get<bool>();
    return true;
}

template <typename Int>
bool read_optional_int(const json& object, const char* key, Int& out) {
    const auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_number_integer()) return false;
    if (it->is_number_unsigned()) {
        const auto value = it->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) return false;
        out = static_cast<Int>(value);
        return true;
    }
    const auto value = it->get<std::int64_t>();
    if (value < static_cast<std::int64_t>(std::numeric_limits<Int>::min())) return false;
    out = static_cast<Int>(value);
    return true;
}

json encode_delivery(const delivery_record& d) {
    return json{
        {"state", to_string(d.state)},
        {"sha256_base64", d.sha256_base64},
        {"idempotency_key", d.idempotency_key},
        {"attempts", d.attempts},
        {"finalised_unix", d.finalised_unix},
        {"next_attempt_unix", d.next_attempt_unix},
        {"last_error", d.last_error},
        {"upload_scheme", d.upload_scheme},
        {"upload_host", d.upload_host},
        {"upload_target", d.upload_target},
        {"reply_url", d.reply_url},
        {"copy_to_destination", d.copy_to_destination},
        {"failed_status", d.failed_status},
        {"failed_hresult", d.failed_hresult},
        {"close_requested", d.close_requested},
    };
}

// The delivery object: "state" is required; the other members default when absent (a later
// version may add members, an older one wrote fewer).
bool decode_delivery(const json& object, delivery_record& out) {
    if (!object.is_object()) return false;
    delivery_record d;
    std::string state_text;
    if (!read_string(object, "state", state_text)) return false;
    const auto state = delivery_state_from_string(state_text);
    // The encoder writes no delivery object for state none: one that says none was not written
    // by bitsd (and would not survive a rewrite).
    if (!state || *state == delivery_state::none) return false;
    d.state = *state;
    if (!read_optional_bool(object, "copy_to_destination", d.copy_to_destination) ||
        !read_optional_bool(object, "close_requested", d.close_requested)) {
        return false;
    }
    if (!read_optional_string(object, "sha256_base64", d.sha256_base64) ||
        !read_optional_string(object, "idempotency_key", d.idempotency_key) ||
        !read_optional_string(object, "last_error", d.last_error) ||
        !read_optional_string(object, "upload_scheme", d.upload_scheme) ||
        !read_optional_string(object, "upload_host", d.upload_host) ||
        !read_optional_string(object, "upload_target", d.upload_target) ||
        !read_optional_string(object, "reply_url", d.reply_url) ||
        !read_optional_int(object, "attempts", d.attempts) ||
        !read_optional_int(object, "finalised_unix", d.finalised_unix) ||
        !read_optional_int(object, "next_attempt_unix", d.next_attempt_unix) ||
        !read_optional_int(object, "failed_status", d.failed_status) ||
        !read_optional_int(object, "failed_hresult", d.failed_hresult)) {
        return false;
    }
    out = std::move(d);
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
    // Written only once a delivery exists: sessions without a notification keep the layout
    // they always had (and an older bitsd can still read them).
    if (metadata.delivery.state != delivery_state::none) {
        object["delivery"] = encode_delivery(metadata.delivery);
    }
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

    // Absent in metadata written before delivery existed: state none.
    const auto delivery = object.find("delivery");
    if (delivery != object.end() && !decode_delivery(*delivery, metadata.delivery)) return corrupt;
    // Optional: sessions stored before owners were recorded have none.
    if (object.contains("owner") && !read_string(object, "owner", metadata.owner)) return corrupt;

    out = std::move(metadata);
    return {};
}

}  // namespace bitsd::storage
