#include "protocol/upload_path.hpp"

#include <boost/locale/utf.hpp>

namespace bitsd::protocol {
namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Valid UTF-8 only: no overlong forms, surrogates or truncated sequences. A name that is not
// UTF-8 cannot be stored in the session's metadata (JSON) nor named on Windows; refusing it
// here answers 400 instead of failing later in storage.
bool is_utf8(std::string_view text) noexcept {
    namespace utf = boost::locale::utf;
    auto it = text.begin();
    while (it != text.end()) {
        const utf::code_point c = utf::utf_traits<char>::decode(it, text.end());
        if (c == utf::illegal || c == utf::incomplete) return false;
    }
    return true;
}

char ascii_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
    }
    return true;
}

// Windows' DOS device names, which name a device in every folder whatever the extension:
// "nul.txt" and "Con.tar.gz" are the devices too. The base name is what precedes the first
// dot, with trailing spaces dropped (Windows drops them: "nul .txt" is NUL as well).
bool is_dos_device_name(std::string_view segment) noexcept {
    std::string_view base = segment.substr(0, segment.find('.'));
    while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
    for (const std::string_view device : {"CON", "PRN", "AUX", "NUL"}) {
        if (iequals_ascii(base, device)) return true;
    }
    if (base.size() < 4) return false;
    const std::string_view stem = base.substr(0, 3);
    if (!iequals_ascii(stem, "COM") && !iequals_ascii(stem, "LPT")) return false;
    const std::string_view digit = base.substr(3);
    if (digit.size() == 1) return digit[0] >= '1' && digit[0] <= '9';
    // Superscript one, two and three (U+00B9, U+00B2, U+00B3) count as digits there too.
    return digit == "\xC2\xB9" || digit == "\xC2\xB2" || digit == "\xC2\xB3";
}

// A decoded segment that is safe as one file or directory name on Linux and Windows alike.
// The rules are the same on every platform: sessions may later move between Linux and Windows
// nodes, so a name one of them cannot hold is refused by all.
bool is_safe_segment(const std::string& segment) noexcept {
    if (segment.empty() || segment == "." || segment == "..") return false;
    // NAME_MAX on Linux file systems (and Windows' 255 characters): a longer name could be
    // uploaded in full and then never committed.
    if (segment.size() > max_segment_length) return false;
    for (const char c : segment) {
        const auto u = static_cast<unsigned char>(c);
        // '/' can only appear here if it was percent-encoded: a segment must not hide a path.
        // '\\' and ':' are path syntax on Windows, < > " | ? * are wildcards and reserved
        // characters there; control characters (NUL first) never belong.
        if (u < 0x20 || u == 0x7f) return false;
        if (std::string_view("/\\:<>\"|?*").find(c) != std::string_view::npos) return false;
    }
    // Windows strips a trailing dot or space, so "a." would silently become "a" there.
    if (segment.back() == '.' || segment.back() == ' ') return false;
    return is_utf8(segment) && !is_dos_device_name(segment);
}

// How many leading path segments `prefix` ("/a/b/" -> a, b; "/" -> none) matches, or nullopt.
// Configured prefixes hold no escapes and no empty or dot segments (checked at start-up), so
// they compare with decoded segments as written.
std::optional<std::size_t> matched_segments(std::string_view prefix,
                                            const std::vector<std::optional<std::string>>& decoded) {
    prefix.remove_prefix(1);
    std::size_t count = 0;
    while (!prefix.empty()) {
        const std::size_t slash = prefix.find('/');
        if (count >= decoded.size() || !decoded[count] || *decoded[count] != prefix.substr(0, slash)) {
            return std::nullopt;
        }
        ++count;
        if (slash == std::string_view::npos) break;
        prefix.remove_prefix(slash + 1);
    }
    return count;
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

    // Split on the raw '/' first, then decode each segment once: an encoded "%2f" stays inside
    // its segment (and is refused there), and "%252e" decodes to a harmless literal "%2e".
    // Prefixes are matched on the decoded segments, so "/uploads/%70rotected/x" reaches the
    // prefix "/uploads/protected/" and never the looser "/uploads/".
    std::vector<std::string_view> raw;
    std::vector<std::optional<std::string>> decoded;  // nullopt: a malformed escape
    if (!path.empty() && path.front() == '/') {
        std::string_view rest = path.substr(1);
        for (;;) {
            const std::size_t slash = rest.find('/');
            raw.push_back(rest.substr(0, slash));
            decoded.push_back(percent_decode(raw.back()));
            if (slash == std::string_view::npos) break;
            rest.remove_prefix(slash + 1);
        }
    }

    // A prefix matches when its segments begin the path and at least one segment (the name,
    // possibly empty for a trailing '/') follows; the prefix with the most segments wins.
    std::size_t best = prefixes.size();
    std::size_t best_length = 0;
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        const auto length = matched_segments(prefixes[i], decoded);
        if (!length || *length >= raw.size()) continue;
        if (best == prefixes.size() || *length > best_length) {
            best = i;
            best_length = *length;
        }
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
    if (const auto rest = target.substr(path.size()); !rest.empty() && rest.front() == '?') {
        result.location.query = std::string(rest.substr(0, rest.find('#')));
    }
    if (raw.back().empty()) {
        result.error = make_error_code(bits_errc::destination_is_directory);
        return result;
    }
    for (std::size_t k = best_length; k < raw.size(); ++k) {
        if (!decoded[k] || !is_safe_segment(*decoded[k])) {
            result.error = make_error_code(bits_errc::bad_destination_path);
            result.location.segments.clear();
            return result;
        }
        result.location.segments.push_back(std::move(*decoded[k]));
    }
    return result;
}

}  // namespace bitsd::protocol
