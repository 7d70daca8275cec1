#include "config/config.hpp"

#include "config/json_reader.hpp"
#include "config/listen_reader.hpp"

#include <array>
#include <utility>

namespace bitsd::config {

namespace {

constexpr std::array<std::pair<const char*, log_level>, 7> log_level_names{{
    {"trace", log_level::trace},
    {"debug", log_level::debug},
    {"info", log_level::info},
    {"warn", log_level::warn},
    {"error", log_level::error},
    {"critical", log_level::critical},
    {"off", log_level::off},
}};

}  // namespace

const char* to_string(log_level level) noexcept {
    for (const auto& [name, value] : log_level_names) {
        if (value == level) return name;
    }
    return "unknown";
}

std::optional<log_level> parse_log_level(std::string_view name) noexcept {
    for (const auto& [text, value] : log_level_names) {
        if (name == text) return value;
    }
    return std::nullopt;
}

void apply_defaults(settings& s) {
    if (s.listen.empty()) s.listen.push_back(listen_endpoint{"0.0.0.0", 8080, std::nullopt});
    if (s.uploads.empty()) {
        upload_prefix upload;
        upload.url_prefix = "/uploads/";
        upload.destination_dir = s.data_dir / "files";
        s.uploads.push_back(std::move(upload));
    }
}

std::optional<config_error> parse_json(const std::string& json_text, settings& out) {
    // Start from the embedded defaults, not from whatever `out` held: a key the document
    // leaves out means "the default", and a failed parse leaves `out` untouched.
    settings result;
    if (auto error = read_json_settings(json_text, result)) return error;
    apply_defaults(result);
    if (auto error = check_basic_needs_tls(result)) return error;
    if (auto error = check_public_base_url(result)) return error;
    out = std::move(result);
    return std::nullopt;
}

}  // namespace bitsd::config
