#include "client/url.hpp"

#include "protocol/content_range.hpp"

#include <algorithm>
#include <cctype>

namespace bitsd::client {
namespace {

bool istarts_with(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

bool valid_host_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
}

bool valid_ipv6_char(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

}  // namespace

std::string encode_target(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        const bool escape_ok = text[i] == '%' && i + 2 < text.size() &&
                               hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0;
        const bool plain = u > 0x20 && u < 0x7f &&
                           std::string_view("<>\"\\^`{|}").find(text[i]) == std::string_view::npos &&
                           (text[i] != '%' || escape_ok);
        if (plain) {
            out += text[i];
        } else {
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 0x0f];
        }
    }
    return out;
}

static url_result parse_url_impl(std::string_view text, bool allow_directory) {
    url_result result;
    if (istarts_with(text, "https://")) {
        result.error = "https:// URLs are not supported yet (TLS comes later); use http://";
        return result;
    }
    if (!istarts_with(text, "http://")) {
        result.error = "the URL must start with http://";
        return result;
    }
    text.remove_prefix(7);
    // A fragment identifier never goes to the server.
    if (const auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);

    const auto path_start = text.find_first_of("/?");
    std::string_view authority = text.substr(0, path_start);
    std::string_view rest = path_start == std::string_view::npos ? std::string_view{}
                                                                  : text.substr(path_start);
    http_url url;
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        const auto colon = userinfo.find(':');
        const auto user = percent_decode(userinfo.substr(0, colon));
        if (!user) {
            result.error = "bad percent-encoding in the URL's user name";
            return result;
        }
        url.user = *user;
        if (colon != std::string_view::npos) {
            const auto password = percent_decode(userinfo.substr(colon + 1));
            if (!password) {
                result.error = "bad percent-encoding in the URL's password";
                return result;
            }
            url.password = *password;
        }
    }

    std::string_view port_text;
    bool has_port = false;  // "host:" with nothing after the colon is an error, not port 80
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            result.error = "unterminated IPv6 address in the URL";
            return result;
        }
        url.host = std::string(authority.substr(1, close - 1));
        if (url.host.empty() || !std::all_of(url.host.begin(), url.host.end(), valid_ipv6_char)) {
            result.error = "bad IPv6 address in the URL";
            return result;
        }
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                result.error = "unexpected characters after the IPv6 address in the URL";
                return result;
            }
            port_text = after.substr(1);
            has_port = true;
        }
    } else {
        const auto colon = authority.find(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            has_port = true;
        }
        if (!std::all_of(url.host.begin(), url.host.end(), valid_host_char)) {
            result.error = "bad host name in the URL";
            return result;
        }
    }
    if (url.host.empty()) {
        result.error = "the URL has no host";
        return result;
    }
    if (has_port) {
        const auto port = protocol::parse_decimal(port_text);
        if (!port || *port == 0 || *port > 65535 ||
            port_text.find_first_not_of("0123456789") != std::string_view::npos) {
            result.error = "bad port in the URL";
            return result;
        }
        url.port = static_cast<std::uint16_t>(*port);
    }
    url.target = encode_target(rest);
    if (url.target.empty() || url.target.front() != '/') url.target.insert(0, "/");
    if (!allow_directory && url.target.find('?') == std::string::npos &&
        url.target.back() == '/') {
        result.error = "the URL names a directory; it must name the file to create";
        return result;
    }
    result.url = std::move(url);
    return result;
}

url_result parse_url(std::string_view text) { return parse_url_impl(text, false); }

std::string host_header(const http_url& url) {
    std::string out = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 80) out += ":" + std::to_string(url.port);
    return out;
}

std::string to_string(const http_url& url) {
    return "http://" + host_header(url) + url.target;
}

http_url with_host(const http_url& url, std::string_view host_id) {
    http_url out = url;
    if (host_id.size() >= 2 && host_id.front() == '[' && host_id.back() == ']') {
        host_id = host_id.substr(1, host_id.size() - 2);
    }
    out.host = std::string(host_id);
    return out;
}

url_result resolve_reply_url(const http_url& base, std::string_view reference) {
    if (istarts_with(reference, "http://") || istarts_with(reference, "https://")) {
        // A reply URL ending in "/" is odd but not ours to judge: it is only downloaded.
        return parse_url_impl(reference, true);
    }
    std::string path(reference);
    std::replace(path.begin(), path.end(), '\\', '/');
    url_result result;
    http_url url = base;
    url.user.reset();
    url.password.reset();
    if (!path.empty() && path.front() == '/') {
        url.target = encode_target(path);
    } else {
        std::string dir = base.target.substr(0, base.target.find('?'));
        dir = dir.substr(0, dir.rfind('/') + 1);
        url.target = dir + encode_target(path);
    }
    result.url = std::move(url);
    return result;
}

}  // namespace bitsd::client
