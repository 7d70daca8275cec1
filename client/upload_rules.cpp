#include "client/upload_rules.hpp"

#include "protocol/content_range.hpp"

#include <algorithm>
#include <cctype>

namespace bitsd::client {
namespace {

using protocol::packet_kind;

constexpr std::uint32_t bg_e_session_not_found = 0x8020001F;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct hresult_name {
    std::uint32_t code;
    const char* name;
    const char* meaning;
};

// The codes a BITS server sends (bits-protocol.md §4.2, §4.5), named for the error message.
constexpr hresult_name known_hresults[] = {
    {0x80070005, "E_ACCESSDENIED", "access denied"},
    {0x80070057, "E_INVALIDARG", "the server found the request invalid"},
    {0x80070070, "ERROR_DISK_FULL", "the server's disk is full"},
    {0x80004005, "E_FAIL", "unspecified server error"},
    {0x8020001B, "BG_E_INVALID_SERVER_RESPONSE", "invalid server response"},
    {0x8020001F, "BG_E_SESSION_NOT_FOUND", "the server does not know the session"},
    {0x80200020, "BG_E_TOO_LARGE", "the file is larger than the server accepts"},
    {0x80200022, "BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH", "no common upload protocol"},
    {0x80200023, "BG_E_SERVER_EXECUTE_ENABLED", "the server directory allows scripts"},
};

std::string name_of(std::uint32_t code) {
    for (const auto& k : known_hresults) {
        if (k.code == code) return std::string(k.name) + ": " + k.meaning;
    }
    // A back-end's status S comes back as 0x80190000 + S (BG_E_HTTP_ERROR_S).
    if ((code & 0xFFFF0000u) == 0x80190000u && (code & 0xFFFFu) >= 100 && (code & 0xFFFFu) < 600) {
        return "BG_E_HTTP_ERROR_" + std::to_string(code & 0xFFFFu);
    }
    return {};
}

bool is_session_not_found(const response_head& response) {
    return response.status >= 400 && bits_error_code(response) == bg_e_session_not_found;
}

bool is_ack(const response_head& response) {
    const auto type = find_header(response.headers, "BITS-Packet-Type");
    return type && iequals(trim(*type), "Ack");
}

decision make(next_step step) {
    decision d;
    d.step = step;
    return d;
}

decision failure(std::string message) {
    decision d = make(next_step::fail);
    d.message = std::move(message);
    return d;
}

std::string refused(packet_kind kind, const response_head& response) {
    return "the server refused " + std::string(packet_name(kind)) + ": " +
           describe_response(response);
}

// A session id is echoed in every later request header: it must be a plain header value.
bool valid_session_id(std::string_view id) {
    return !id.empty() && id.size() <= 100 &&
           std::all_of(id.begin(), id.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return u > 0x20 && u < 0x7f;
           });
}

// A Host-Id replaces the URL's host: a name, an IPv4 address or an IPv6 literal.
bool valid_host_id(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return !host.empty() && host.size() <= 300 &&
           std::all_of(host.begin(), host.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == ':';
           });
}

decision decide_create(const response_head& response) {
    const auto id = find_header(response.headers, "BITS-Session-Id");
    if (!id || !valid_session_id(trim(*id))) {
        return failure("invalid server response to Create-Session: no usable BITS-Session-Id (" +
                       describe_response(response) + ")");
    }
    if (const auto chosen = find_header(response.headers, "BITS-Protocol");
        chosen && !iequals(trim(*chosen), protocol::bits_upload_protocol_guid)) {
        return failure("the server chose an upload protocol bits-upload does not speak: " +
                       std::string(trim(*chosen)));
    }
    decision d = make(next_step::session_created);
    d.session_id = std::string(trim(*id));
    if (const auto host = find_header(response.headers, "BITS-Host-Id")) {
        if (!valid_host_id(trim(*host))) {
            return failure("invalid server response to Create-Session: BITS-Host-Id \"" +
                           std::string(*host) + "\" is not a host name or address");
        }
        d.host_id = std::string(trim(*host));
        if (const auto timeout = find_header(response.headers, "BITS-Host-Id-Fallback-Timeout")) {
            d.host_id_fallback_timeout_s = protocol::parse_decimal(*timeout);
        }
    }
    return d;
}

decision decide_fragment_offset(const upload_position& at, const response_head& response) {
    const auto header = find_header(response.headers, "BITS-Received-Content-Range");
    std::optional<std::uint64_t> received;
    if (header) {
        received = protocol::parse_decimal(*header);
        if (!received) {
            return failure("invalid server response to Fragment: BITS-Received-Content-Range \"" +
                           std::string(*header) + "\" is not a number");
        }
    } else if (response.status == 416) {
        return failure("the server answered 416 without BITS-Received-Content-Range: "
                       "it cannot say where to continue");
    } else {
        // The header is a MUST on 200; a server that leaves it out can only mean it took all.
        received = at.offset + at.length;
    }
    if (*received > at.file_size) {
        return failure("invalid server response to Fragment: it acknowledges " +
                       std::to_string(*received) + " bytes of a " + std::to_string(at.file_size) +
                       "-byte file");
    }
    const bool as_sent = response.status != 416 && *received == at.offset + at.length;
    decision d = make(as_sent ? next_step::advance : next_step::resync);
    d.offset = *received;
    if (*received == at.file_size) {
        if (const auto reply = find_header(response.headers, "BITS-Reply-URL");
            reply && !trim(*reply).empty()) {
            d.reply_url = std::string(trim(*reply));
        }
    }
    return d;
}

}  // namespace

std::optional<std::string_view> find_header(const protocol::header_list& headers,
                                            std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

std::optional<std::uint32_t> parse_hresult(std::string_view text) {
    text = trim(text);
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text.remove_prefix(2);
    }
    if (text.empty() || text.size() > 8) return std::nullopt;
    std::uint32_t value = 0;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (!std::isxdigit(u)) return std::nullopt;
        const auto digit = std::isdigit(u) ? c - '0' : std::tolower(u) - 'a' + 10;
        value = value * 16 + static_cast<std::uint32_t>(digit);
    }
    return value;
}

std::optional<std::uint32_t> bits_error_code(const response_head& response) {
    for (const auto name : {"BITS-Error-Code", "BITS-Error"}) {
        if (const auto value = find_header(response.headers, name)) {
            if (auto code = parse_hresult(*value)) return code;
        }
    }
    return std::nullopt;
}

status_class classify_status(unsigned status) noexcept {
    if (status >= 200 && status < 300) return status_class::success;
    if (status >= 300 && status < 400) {
        return (status <= 305 || status == 307) ? status_class::fatal : status_class::transient;
    }
    if (status >= 400 && status < 500) {
        return (status == 408 || status == 409) ? status_class::transient : status_class::fatal;
    }
    if (status >= 500 && status < 600) {
        return (status == 501 || status == 505) ? status_class::fatal : status_class::transient;
    }
    return status_class::transient;
}

std::string_view packet_name(protocol::packet_kind kind) noexcept {
    switch (kind) {
    case packet_kind::ping: return "Ping";
    case packet_kind::create_session: return "Create-Session";
    case packet_kind::fragment: return "Fragment";
    case packet_kind::close_session: return "Close-Session";
    case packet_kind::cancel_session: return "Cancel-Session";
    }
    return "request";
}

std::string describe_response(const response_head& response) {
    std::string text = "HTTP " + std::to_string(response.status);
    if (!response.reason.empty()) text += " " + response.reason;
    if (const auto code = bits_error_code(response)) {
        text += ", BITS error " + protocol::format_hresult(*code);
        if (const auto name = name_of(*code); !name.empty()) text += " (" + name + ")";
        if (const auto context = find_header(response.headers, "BITS-Error-Context")) {
            const auto value = parse_hresult(*context);
            text += ", context " + std::string(trim(*context));
            if (value == protocol::context_server) text += " (the BITS server)";
            if (value == protocol::context_application) text += " (the server's application)";
        }
    }
    return text;
}

std::chrono::seconds backoff_delay(unsigned failure_number,
                                   std::chrono::seconds max_delay) noexcept {
    if (failure_number == 0) failure_number = 1;
    // 2^(n-1) seconds; past 2^20 the cap has long been reached.
    const auto exponent = std::min(failure_number - 1, 20u);
    const std::chrono::seconds delay{std::int64_t{1} << exponent};
    return std::min(delay, std::max(max_delay, std::chrono::seconds{0}));
}

bool host_fallback_due(std::optional<std::uint64_t> fallback_timeout_s,
                       std::chrono::seconds failing_for) noexcept {
    if (!fallback_timeout_s) return false;
    return failing_for.count() >= 0 &&
           static_cast<std::uint64_t>(failing_for.count()) >= *fallback_timeout_s;
}

decision retry_or_give_up(const upload_position& at, const retry_policy& policy,
                          std::string message) {
    const unsigned failure_number = at.failures + 1;
    if (failure_number > policy.max_retries) {
        decision d = make(next_step::give_up);
        d.message = "gave up after " + std::to_string(failure_number) +
                    " failures in a row without progress; the last: " + message;
        return d;
    }
    decision d = make(next_step::retry);
    d.delay = backoff_delay(failure_number, policy.max_delay);
    d.message = std::move(message);
    return d;
}

decision decide_transport_failure(const upload_position& at, const retry_policy& policy,
                                  std::string_view what) {
    return retry_or_give_up(at, policy, std::string(what));
}

decision decide(protocol::packet_kind kind, const upload_position& at, const retry_policy& policy,
                const response_head& response) {
    const unsigned status = response.status;

    // SESSION_NOT_FOUND: the server lost the session (expired, restarted without it, another
    // farm node). Every packet but Cancel starts over; a Cancel has nothing left to cancel.
    if (kind != packet_kind::ping && kind != packet_kind::create_session &&
        is_session_not_found(response)) {
        if (kind == packet_kind::cancel_session) return make(next_step::proceed);
        if (at.restarts >= policy.max_restarts) {
            return failure("the server lost the session " + std::to_string(at.restarts + 1) +
                           " times; the last answer to " + std::string(packet_name(kind)) +
                           ": " + describe_response(response));
        }
        decision d = make(next_step::restart_session);
        d.message = "the server does not know the session (" + describe_response(response) +
                    "): starting over with a new session";
        return d;
    }

    if (status == 401 || status == 407) {
        const std::string who = status == 401 ? "the server" : "the proxy";
        return failure(at.credentials_sent
                           ? "authentication failed: " + who + " rejected the credentials (" +
                                 describe_response(response) + ")"
                           : who + " requires authentication (" + describe_response(response) +
                                 "); give --user and --password, or --netrc FILE");
    }

    if (kind == packet_kind::fragment) {
        if (status == 200 || status == 416) {
            if (!is_ack(response)) {
                return failure("not a BITS upload server: its answer to Fragment has no "
                               "BITS-Packet-Type: Ack (" + describe_response(response) + ")");
            }
            return decide_fragment_offset(at, response);
        }
        if (status == 413) {
            if (at.length <= min_fragment_size) {
                return failure("the server refuses even " + std::to_string(at.length) +
                               "-byte fragments (" + describe_response(response) + ")");
            }
            decision d = make(next_step::shrink_fragment);
            d.fragment_size = std::max(min_fragment_size, at.length / 2);
            d.message = "the server refused a " + std::to_string(at.length) +
                        "-byte fragment (413); sending " + std::to_string(d.fragment_size) +
                        "-byte fragments";
            return d;
        }
    }

    switch (classify_status(status)) {
    case status_class::success:
        if (!is_ack(response)) {
            return failure("not a BITS upload server: its answer to " +
                           std::string(packet_name(kind)) + " has no BITS-Packet-Type: Ack (" +
                           describe_response(response) + ")");
        }
        if (kind == packet_kind::create_session) return decide_create(response);
        if (kind == packet_kind::fragment) return decide_fragment_offset(at, response);
        return make(next_step::proceed);
    case status_class::transient:
        return retry_or_give_up(at, policy,
                                std::string(packet_name(kind)) + ": " + describe_response(response));
    case status_class::fatal:
        break;
    }
    return failure(refused(kind, response));
}

}  // namespace bitsd::client
