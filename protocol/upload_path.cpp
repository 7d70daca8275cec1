#include "protocol/upload_path.hpp"

namespace bitsd::protocol {
namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A decoded segment that is safe as one file or directory name on Linux and Windows alike.
bool is_safe_segment(const std::string& segment) noexcept {
    if (segment.empty() || segment == "." || segment == "..") return false;
    // NAME_MAX on Linux file systems (and Windows' 255 characters): a longer name could be
    // uploaded in full and then never committed.
    if (segment.size() > max_segment_length) return false;
    for (const char c : segment) {
        const auto u = static_cast<unsigned char>(c);
        // '/' can only appear here if it was percent-encoded: a segment must not hide a path.
        // '\\' and ':' are path syntax on Windows; control characters (NUL first) never belong.
        if (u < 0x20 || u == 0x7f || c == '/' || c == '\\' || c == ':') return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

route_result route(std::string_view method, std::string_view target,
                   const std::vector<std::string>& prefixes) {
    route_result result;
    const std::string_view path = target.substr(0, target.find_first_of("?#"));

    std::size_t best = prefixes.size();
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        const std::string& prefix = prefixes[i];
        if (path.substr(0, prefix.size()) != prefix) continue;
        if (best == prefixes.size() || prefix.size() > prefixes[best].size()) best = i;
    }
    if (best == prefixes.size()) {
        result.error = make_error_code(method == "BITS_POST" ? bits_errc::upload_url_not_found
                                                             : bits_errc::not_found);
        return result;
    }
    if (method != "BITS_POST") {
        result.error = make_error_code(bits_errc::method_not_allowed);
        return result;
    }

    result.location.prefix_index = best;
    result.location.path = std::string(path);
    std::string_view rest = path.substr(prefixes[best].size());
    if (rest.empty() || rest.back() == '/') {
        result.error = make_error_code(bits_errc::destination_is_directory);
        return result;
    }
    // Split on the raw '/' first, then decode each segment once: an encoded "%2f" stays inside
    // its segment and is refused there, and "%252e" decodes to a harmless literal "%2e".
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view raw = rest.substr(0, slash);
        auto decoded = percent_decode(raw);
        if (!decoded || !is_safe_segment(*decoded)) {
            result.error = make_error_code(bits_errc::bad_destination_path);
            result.location.segments.clear();
            return result;
        }
        result.location.segments.push_back(std::move(*decoded));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return result;
}

}  // namespace bitsd::protocol
