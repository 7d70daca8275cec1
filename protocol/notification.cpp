#include "protocol/notification.hpp"

#include "protocol/content_range.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace bitsd::protocol {
namespace {

// BG_E_HTTP_ERROR_<status> = 0x80190000 + status: what the Windows client itself reports for a
// bare HTTP status, so a back-end's status reads the same in the client's error as in our log.
constexpr std::uint32_t bg_e_http_error_base = 0x80190000;
constexpr std::uint32_t e_invalidarg = 0x80070057;

std::uint32_t http_error_hresult(unsigned status) noexcept {
    return bg_e_http_error_base + (status < 1000 ? status : 0);
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Characters a URL may carry as they are: visible ASCII without '#' (no fragments: they never
// reach a server) and without the characters RFC 3986 forbids outright.
bool is_url_text(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7F && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' &&
               c != '^' && c != '`' && c != '{' && c != '|' && c != '}';
    });
}

struct split_url {
    std::string scheme;     // lower case; empty for a relative reference
    bool has_authority = false;
    std::string authority;  // host[:port]
    std::string path;
    bool has_query = false;
    std::string query;      // without '?'
};

// RFC 3986 §3 split of a reference already checked with is_url_text.
split_url split(std::string_view text) {
    split_url out;
    const auto colon = text.find(':');
    const auto first_delim = text.find_first_of("/?");
    if (colon != std::string_view::npos && colon > 0 &&
        (first_delim == std::string_view::npos || colon < first_delim) &&
        std::isalpha(static_cast<unsigned char>(text[0]))) {
        out.scheme = std::string(text.substr(0, colon));
        std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        text.remove_prefix(colon + 1);
    }
    if (text.substr(0, 2) == "//") {
        text.remove_prefix(2);
        const auto end = text.find_first_of("/?");
        out.has_authority = true;
        out.authority = std::string(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    }
    const auto question = text.find('?');
    out.path = std::string(text.substr(0, question));
    if (question != std::string_view::npos) {
        out.has_query = true;
        out.query = std::string(text.substr(question + 1));
    }
    return out;
}

// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string input) {
    std::string output;
    while (!input.empty()) {
        if (input.rfind("../", 0) == 0) {
            input.erase(0, 3);
        } else if (input.rfind("./", 0) == 0) {
            input.erase(0, 2);
        } else if (input.rfind("/./", 0) == 0) {
            input.erase(0, 2);
        } else if (input == "/.") {
            input = "/";
        } else if (input.rfind("/../", 0) == 0 || input == "/..") {
            input = input.size() == 3 ? "/" : input.substr(3);
            const auto last = output.rfind('/');
            output.erase(last == std::string::npos ? 0 : last);
        } else if (input == "." || input == "..") {
            input.clear();
        } else {
            const auto next = input.find('/', input[0] == '/' ? 1 : 0);
            output += input.substr(0, next);
            input.erase(0, next == std::string::npos ? input.size() : next);
        }
    }
    return output;
}

// host[:port] -> host without brackets and the port (default for the scheme when absent).
bool split_authority(std::string_view authority, std::uint16_t default_port, std::string& host,
                     std::uint16_t& port) {
    if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
    std::string_view port_text;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        host = std::string(authority.substr(1, close - 1));
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
        if (host.empty()) return false;
    }
    port = default_port;
    if (!port_text.empty()) {
        const auto number = parse_decimal(port_text);
        if (!number || *number == 0 || *number > 65535 || port_text.size() > 5) return false;
        port = static_cast<std::uint16_t>(*number);
    }
    return true;
}

std::uint16_t default_port(std::string_view scheme) noexcept { return scheme == "https" ? 443 : 80; }

bool is_http_scheme(std::string_view scheme) noexcept { return scheme == "http" || scheme == "https"; }

// The scheme and authority of an upload URL are usable, and its target is origin-form once
// encoded (encode_target).
bool valid_upload(const upload_url& upload) {
    std::string host;
    std::uint16_t port = 0;
    return (upload.scheme == "http" || upload.scheme == "https") && is_url_text(upload.host) &&
           split_authority(upload.host, 80, host, port) && !upload.target.empty() &&
           upload.target.front() == '/';
}

void append_percent(std::string& out, unsigned char c) {
    static constexpr char hex[] = "0123456789ABCDEF";
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 0xF];
}

const header_list::value_type* find_header(const header_list& headers, std::string_view name) {
    for (const auto& header : headers) {
        if (iequals(header.first, name)) return &header;
    }
    return nullptr;
}

// Absolute http(s) URL with a usable authority, within IIS's length limit.
bool is_absolute_http_url(std::string_view text) {
    if (text.size() > max_url_length || !is_url_text(text)) return false;
    const auto parts = split(text);
    std::string host;
    std::uint16_t port = 0;
    return is_http_scheme(parts.scheme) && parts.has_authority &&
           split_authority(parts.authority, default_port(parts.scheme), host, port);
}

bool is_unreserved_or_safe(unsigned char c) noexcept {
    return std::isalnum(c) || std::string_view("-._~!$&'()*+,;=:@").find(static_cast<char>(c)) !=
                                  std::string_view::npos;
}

std::string percent_encode_segment(std::string_view segment) {
    std::string out;
    for (const char c : segment) {
        const auto u = static_cast<unsigned char>(c);
        if (is_unreserved_or_safe(u)) {
            out += c;
        } else {
            append_percent(out, u);
        }
    }
    return out;
}

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "bitsd.notification"; }
    std::string message(int value) const override {
        switch (static_cast<notification_errc>(value)) {
        case notification_errc::bad_upload_url: return "the upload URL cannot be rebuilt";
        case notification_errc::bad_notification_url:
            return "the notification URL is neither an absolute http(s) URL nor a relative reference";
        case notification_errc::url_too_long: return "URL longer than 2200 characters";
        case notification_errc::bad_reply_path: return "the reply path is empty or has dot segments";
        case notification_errc::needs_public_base_url:
            return "a relative notification URL needs public_base_url to resolve against";
        }
        return "unknown notification error";
    }
};

}  // namespace

const std::error_category& notification_category() noexcept {
    static const category instance;
    return instance;
}

std::error_code make_error_code(notification_errc e) noexcept {
    return {static_cast<int>(e), notification_category()};
}

std::string encode_target(std::string_view target) {
    std::string out;
    out.reserve(target.size());
    for (const char c : target) {
        const auto u = static_cast<unsigned char>(c);
        if (is_url_text(std::string_view(&c, 1))) {
            out += c;
        } else {
            append_percent(out, u);
        }
    }
    return out;
}

std::string absolute_url(const upload_url& upload) {
    const auto target = encode_target(upload.target);
    std::string url;
    url.reserve(upload.scheme.size() + 3 + upload.host.size() + target.size());
    url.append(upload.scheme).append("://").append(upload.host).append(target);
    return url;
}

bool parse_public_base_url(std::string_view text, std::string& scheme, std::string& authority) {
    if (text.empty() || text.size() > max_url_length || !is_url_text(text)) return false;
    const auto parts = split(text);
    std::string host;
    std::uint16_t port = 0;
    if (!is_http_scheme(parts.scheme) || !parts.has_authority || parts.has_query ||
        !(parts.path.empty() || parts.path == "/") ||
        !split_authority(parts.authority, default_port(parts.scheme), host, port)) {
        return false;
    }
    scheme = parts.scheme;
    authority = parts.authority;
    return true;
}

bool is_absolute_reference(std::string_view url) { return !split(trim(url)).scheme.empty(); }

std::string repr_digest_value(std::string_view sha256_base64) {
    return "sha-256=:" + std::string(sha256_base64) + ":";
}

std::string idempotency_key_value(std::string_view key) {
    std::string value = "\"";
    for (const char c : key) {
        if (c == '"' || c == '\\') value += '\\';
        value += c;
    }
    value += '"';
    return value;
}

std::error_code build_notification(const notification_input& input, notification_request& out) {
    const auto configured = trim(input.notification_url);
    if (configured.empty() || !is_url_text(configured)) return notification_errc::bad_notification_url;
    if (configured.size() > max_url_length) return notification_errc::url_too_long;

    // What the back-end is told the upload URL was: on the public base when there is one.
    std::string base_scheme;
    std::string base_authority;
    upload_url upload = input.upload;
    if (!input.public_base_url.empty()) {
        if (!parse_public_base_url(input.public_base_url, base_scheme, base_authority)) {
            return notification_errc::bad_notification_url;
        }
        upload.scheme = base_scheme;
        upload.host = base_authority;
    }
    if (!valid_upload(upload)) return notification_errc::bad_upload_url;
    const auto original_url = absolute_url(upload);

    // RFC 3986 §5.2.2, the base being the upload URL without its query. A relative reference
    // never resolves against anything but the configured public base.
    const auto reference = split(configured);
    if (reference.scheme.empty() && input.public_base_url.empty()) {
        return notification_errc::needs_public_base_url;
    }
    const auto base = split(original_url);
    split_url target;
    if (!reference.scheme.empty()) {
        target = reference;
        target.path = remove_dot_segments(reference.path);
    } else {
        target.scheme = base.scheme;
        if (reference.has_authority) {
            target.has_authority = true;
            target.authority = reference.authority;
            target.path = remove_dot_segments(reference.path);
            target.has_query = reference.has_query;
            target.query = reference.query;
        } else {
            target.has_authority = true;
            target.authority = base.authority;
            if (reference.path.empty()) {
                target.path = base.path;
            } else if (reference.path.front() == '/') {
                target.path = remove_dot_segments(reference.path);
            } else {
                const auto slash = base.path.rfind('/');
                target.path = remove_dot_segments(base.path.substr(0, slash + 1) + reference.path);
            }
            target.has_query = reference.has_query;
            target.query = reference.query;
        }
    }
    if (!is_http_scheme(target.scheme) || !target.has_authority) {
        return notification_errc::bad_notification_url;
    }
    notification_request request;
    request.scheme = target.scheme;
    if (!split_authority(target.authority, default_port(target.scheme), request.host, request.port)) {
        return notification_errc::bad_notification_url;
    }
    request.host_header = target.authority;
    if (target.path.empty()) target.path = "/";

    // The upload's query string goes to the back-end (IIS: "?ACCOUNT=86433" is appended).
    const std::string_view upload_query = base.query;
    request.target = target.path;
    if (target.has_query || !upload_query.empty()) {
        request.target += '?';
        request.target += target.query;
        if (!upload_query.empty()) {
            if (!target.query.empty()) request.target += '&';
            request.target.append(upload_query);
        }
    }
    request.url = request.scheme + "://" + request.host_header + request.target;
    if (request.url.size() > max_url_length) return notification_errc::url_too_long;

    request.headers.emplace_back("BITS-Original-Request-URL", original_url);
    if (input.type == notification_type::reference) {
        request.headers.emplace_back("BITS-Request-DataFile-Name", std::string(input.request_data_file));
        request.headers.emplace_back("BITS-Response-DataFile-Name",
                                     std::string(input.response_data_file));
    }
    request.headers.emplace_back("BITS-Session-Id", std::string(input.session_id));
    request.headers.emplace_back("BITS-Upload-Size", std::to_string(input.size));
    request.headers.emplace_back("Idempotency-Key", idempotency_key_value(input.idempotency_key));
    request.headers.emplace_back("Repr-Digest", repr_digest_value(input.sha256_base64));
    request.body_length = input.type == notification_type::value ? input.size : 0;
    request.headers.emplace_back("Content-Length", std::to_string(request.body_length));
    out = std::move(request);
    return {};
}

delivery_verdict classify_backend_response(notification_type type, const backend_response& response) {
    delivery_verdict verdict;
    constexpr auto app = context_application;
    switch (response.transport) {
    case backend_transport::timed_out:
        verdict.client_answer = {408, http_error_hresult(408), app};
        verdict.reason = "the back-end did not answer in time";
        return verdict;
    case backend_transport::unreachable:
        verdict.client_answer = {503, http_error_hresult(503), app};
        verdict.reason = "the back-end is unreachable";
        return verdict;
    case backend_transport::connection_dropped:
        verdict.client_answer = {503, http_error_hresult(503), app};
        verdict.reason = "the back-end dropped the connection before answering";
        return verdict;
    case backend_transport::malformed_response:
        verdict.client_answer = {502, http_error_hresult(502), app};
        verdict.reason = "the back-end's answer is not usable HTTP";
        return verdict;
    case backend_transport::answered: break;
    }

    const auto status = response.status;
    const auto hresult = http_error_hresult(status);
    const auto status_text = std::to_string(status);
    if (status >= 200 && status < 300) {
        if (const auto* header = find_header(response.headers, "BITS-Static-Response-URL");
            header && !trim(header->second).empty()) {
            const auto url = trim(header->second);
            if (!is_absolute_http_url(url)) {
                // [SPEC] table: a reply URL over 2,200 characters is 400 + E_INVALIDARG. The
                // back-end has the upload, so trying again would only deliver it twice.
                verdict.outcome = delivery_outcome::failed_fatal;
                verdict.client_answer = {400, e_invalidarg, app};
                verdict.reason = "the back-end's BITS-Static-Response-URL is not an absolute http(s) "
                                 "URL of at most 2200 characters";
                return verdict;
            }
            verdict.reply = reply_source::static_url;
            verdict.static_reply_url = std::string(url);
        } else {
            verdict.reply = type == notification_type::value ? reply_source::response_body
                                                              : reply_source::response_data_file;
        }
        verdict.outcome = delivery_outcome::delivered;
        verdict.copy_to_destination =
            find_header(response.headers, "BITS-Copy-File-To-Destination") != nullptr;
        verdict.reason = "delivered (" + status_text + ")";
        return verdict;
    }

    if (status >= 400 && status < 500 && status != 408 && status != 429) {
        verdict.outcome = delivery_outcome::failed_fatal;
        // Windows retries a 409 forever; a refusal must stop it.
        verdict.client_answer = {status == 409 ? 403u : status, hresult, app};
        verdict.reason = "the back-end refused the upload (" + status_text + ")";
        return verdict;
    }

    verdict.outcome = delivery_outcome::failed_transient;
    // 408 and the 5xx Windows retries keep their status; the rest would stop a Windows client (or
    // make it chase a redirect), so it gets 503: bitsd will deliver again when it retries.
    const bool windows_retries = status == 408 || (status >= 500 && status < 600 && status != 501 &&
                                                   status != 505);
    verdict.client_answer = {windows_retries ? status : 503u, hresult, app};
    verdict.reason = status >= 300 && status < 400
                         ? "the back-end answered a redirect (" + status_text + "), not followed"
                         : "the back-end failed (" + status_text + ")";
    return verdict;
}

std::error_code build_reply_url(const upload_url& upload, std::string_view reply_path,
                                std::string& out) {
    if (!valid_upload(upload)) return notification_errc::bad_upload_url;
    std::string path(reply_path);
    std::replace(path.begin(), path.end(), '\\', '/');
    if (path.empty()) return notification_errc::bad_reply_path;

    std::string url = std::string(upload.scheme) + "://" + std::string(upload.host);
    if (path.front() != '/') {
        // Relative to the upload's directory, which stays as the client encoded it (what a URL
        // cannot carry raw encoded).
        const auto target = encode_target(upload.target);
        const auto upload_path = std::string_view(target).substr(0, target.find('?'));
        url.append(upload_path.substr(0, upload_path.rfind('/') + 1));
    } else {
        url += '/';
    }
    std::string_view rest(path);
    bool first = true;
    bool any_segment = false;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
        if (segment.empty()) continue;  // leading, doubled or trailing slashes
        if (segment == "." || segment == "..") return notification_errc::bad_reply_path;
        if (!first) url += '/';
        url += percent_encode_segment(segment);
        first = false;
        any_segment = true;
    }
    if (!any_segment) return notification_errc::bad_reply_path;
    if (url.size() > max_url_length) return notification_errc::url_too_long;
    out = std::move(url);
    return {};
}

range_answer evaluate_range(std::optional<std::string_view> range_header, std::uint64_t file_size) {
    range_answer whole{200, 0, file_size, {}};
    if (!range_header) return whole;
    auto spec = trim(*range_header);
    if (!istarts_with(spec, "bytes")) return whole;  // another unit: ignored (RFC 9110 §14.2)
    spec = trim(spec.substr(5));
    if (spec.empty() || spec.front() != '=') return whole;
    spec = trim(spec.substr(1));
    if (spec.find(',') != std::string_view::npos) return whole;  // several ranges: whole file
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return whole;
    const auto first_text = trim(spec.substr(0, dash));
    const auto last_text = trim(spec.substr(dash + 1));

    const range_answer unsatisfiable{416, 0, 0, "bytes */" + std::to_string(file_size)};
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (first_text.empty()) {
        // "-N": the last N bytes.
        const auto suffix = parse_decimal(last_text);
        if (!suffix || last_text.empty()) return whole;
        if (*suffix == 0 || file_size == 0) return unsatisfiable;
        first = *suffix >= file_size ? 0 : file_size - *suffix;
        last = file_size - 1;
    } else {
        const auto parsed_first = parse_decimal(first_text);
        if (!parsed_first) return whole;
        std::optional<std::uint64_t> parsed_last;
        if (!last_text.empty()) {
            parsed_last = parse_decimal(last_text);
            // A malformed or backwards range makes the header invalid: it is ignored.
            if (!parsed_last || *parsed_last < *parsed_first) return whole;
        }
        if (*parsed_first >= file_size) return unsatisfiable;
        first = *parsed_first;
        last = parsed_last ? std::min(*parsed_last, file_size - 1) : file_size - 1;
    }
    return {206, first, last - first + 1,
            "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                std::to_string(file_size)};
}

}  // namespace bitsd::protocol
