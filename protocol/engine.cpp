#include "protocol/engine.hpp"

#include <cctype>

namespace bitsd::protocol {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// BITS-Supported-Protocols lists GUIDs separated by spaces or commas, most preferred first.
bool offers_upload_protocol(std::string_view list) noexcept {
    while (!list.empty()) {
        const std::size_t end = list.find_first_of(" ,\t");
        const std::string_view token = list.substr(0, end);
        if (iequals(token, bits_upload_protocol_guid)) return true;
        if (end == std::string_view::npos) break;
        list.remove_prefix(end + 1);
    }
    return false;
}

template <typename T>
outcome<T> fail(bits_errc e, std::optional<std::uint64_t> received = std::nullopt) {
    outcome<T> result;
    result.failure = {make_error_code(e), received};
    return result;
}

template <typename T>
outcome<T> succeed(T value) {
    outcome<T> result;
    result.value = std::move(value);
    return result;
}

bool is_plain_http(const std::error_code& ec) noexcept {
    return ec == bits_errc::not_found || ec == bits_errc::method_not_allowed || ec == bits_errc::unauthorized;
}

}  // namespace

std::optional<packet_kind> parse_packet_type(std::string_view text) noexcept {
    text = trim(text);
    if (iequals(text, "Ping")) return packet_kind::ping;
    if (iequals(text, "Create-Session")) return packet_kind::create_session;
    if (iequals(text, "Fragment")) return packet_kind::fragment;
    if (iequals(text, "Close-Session")) return packet_kind::close_session;
    if (iequals(text, "Cancel-Session")) return packet_kind::cancel_session;
    return std::nullopt;
}

std::string format_hresult(std::uint32_t hresult) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string text = "0x";
    for (int shift = 28; shift >= 0; shift -= 4) text.push_back(digits[(hresult >> shift) & 0xf]);
    return text;
}

std::string format_context(std::uint32_t context) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string text;
    do {
        text.insert(text.begin(), digits[context & 0xf]);
        context >>= 4;
    } while (context != 0);
    return "0x" + text;
}

engine::engine(engine_settings settings) : settings_(std::move(settings)) {}

outcome<packet> engine::parse(const request_view& request) const {
    // Common validation first ([MC-BUP] 3.2.5.2.3), then what each packet type requires.
    if (request.longest_header_value > max_header_value_length) {
        return fail<packet>(bits_errc::header_too_long);
    }
    // A field that decides what the request means must be unambiguous: two of them would let
    // this server and a proxy in front of it read different requests ("first one wins" here,
    // "last one wins" there).
    if (request.packet_type_count > 1 || request.session_id_count > 1 ||
        request.content_length_count > 1 || request.content_range_count > 1) {
        return fail<packet>(bits_errc::duplicate_header);
    }
    // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; no request has two.
    if (request.host_count > 1 || (request.http_version >= 11 && request.host_count == 0)) {
        return fail<packet>(bits_errc::bad_host);
    }
    const auto kind = request.packet_type ? parse_packet_type(*request.packet_type) : std::nullopt;
    if (!kind) return fail<packet>(bits_errc::unknown_packet_type);
    if (request.chunked) return fail<packet>(bits_errc::chunked_body_not_supported);
    // Without Content-Length (and without Transfer-Encoding, refused above) a request's body is
    // empty (RFC 9112 6.3): fine for every packet but a Fragment, whose length must be stated
    // so that it can be checked against its Content-Range.
    std::optional<std::uint64_t> length = 0;
    if (request.content_length) {
        length = parse_decimal(*request.content_length);
        if (!length) return fail<packet>(bits_errc::bad_content_length);
    } else if (*kind == packet_kind::fragment) {
        return fail<packet>(bits_errc::missing_content_length);
    }
    if (request.content_encoding && !iequals(trim(*request.content_encoding), "identity")) {
        return fail<packet>(bits_errc::unsupported_content_encoding);
    }

    packet p;
    p.kind = *kind;
    p.content_length = *length;
    if (request.session_id) {
        // Looked up in canonical form (ids are case-insensitive), echoed exactly as sent.
        const auto canonical = normalize_session_id(trim(*request.session_id));
        p.session_id_valid = canonical.has_value();
        p.session_id = canonical ? *canonical : std::string(*request.session_id);
        p.sent_session_id = std::string(*request.session_id);
    }

    if (p.kind != packet_kind::fragment && p.content_length != 0) {
        return fail<packet>(bits_errc::body_not_allowed);
    }
    switch (p.kind) {
    case packet_kind::ping:
        break;
    case packet_kind::create_session:
        if (!request.supported_protocols) return fail<packet>(bits_errc::missing_supported_protocols);
        if (!offers_upload_protocol(*request.supported_protocols)) {
            return fail<packet>(bits_errc::no_common_protocol);
        }
        p.protocol = std::string(bits_upload_protocol_guid);
        break;
    case packet_kind::fragment: {
        if (!request.session_id) return fail<packet>(bits_errc::missing_session_id);
        if (!request.content_range) return fail<packet>(bits_errc::missing_content_range);
        const auto range = parse_content_range(*request.content_range);
        if (!range) return fail<packet>(bits_errc::bad_content_range);
        if (range->length() != p.content_length) return fail<packet>(bits_errc::content_length_mismatch);
        // Answered before the body is read, so the client shrinks its fragments.
        if (p.content_length > settings_.max_fragment_size) {
            return fail<packet>(bits_errc::fragment_too_large);
        }
        p.range = *range;
        break;
    }
    case packet_kind::close_session:
    case packet_kind::cancel_session:
        if (!request.session_id) return fail<packet>(bits_errc::missing_session_id);
        break;
    }
    return succeed(std::move(p));
}

std::error_code engine::decide_create(const packet&, destination_kind destination,
                                      const upload_rules& rules) const {
    if (destination == destination_kind::directory) return bits_errc::destination_is_directory;
    if (destination == destination_kind::unusable) return bits_errc::bad_destination_path;
    if (destination == destination_kind::file && !rules.allow_overwrites) {
        return bits_errc::destination_exists;
    }
    return {};
}

bool is_expired(std::int64_t last_activity_unix, std::int64_t now_unix,
                std::uint64_t session_timeout_s) noexcept {
    const std::int64_t idle = now_unix - last_activity_unix;
    return idle > 0 && static_cast<std::uint64_t>(idle) > session_timeout_s;
}

std::error_code engine::find_session(const packet& request, const session_view* session,
                                     std::string_view request_path, const upload_rules& rules,
                                     std::int64_t now_unix) const {
    if (!request.session_id_valid || session == nullptr) return bits_errc::session_not_found;
    // A session belongs to the URL it was created for; another URL guessing its id finds nothing.
    if (session->target != request_path) return bits_errc::session_not_found;
    // Expired but not yet swept: as good as gone (no successful message for the timeout).
    if (is_expired(session->last_activity_unix, now_unix, rules.session_timeout_s)) {
        return bits_errc::session_not_found;
    }
    return {};
}

outcome<fragment_plan> engine::decide_fragment(const packet& fragment, const session_view& session,
                                               const upload_rules& rules) const {
    const content_range& r = *fragment.range;
    if (session.phase == session_phase::cancelled) {
        return fail<fragment_plan>(bits_errc::session_not_found);
    }
    // A closed session's size is final even when no fragment ever came (a zero-byte file).
    const std::optional<std::uint64_t> known_total =
        session.total ? session.total
                      : session.phase != session_phase::receiving ? std::optional<std::uint64_t>(session.received)
                                                                   : std::nullopt;
    if (known_total && *known_total != r.total) return fail<fragment_plan>(bits_errc::total_changed);
    if (rules.max_upload_size != 0 && r.total > rules.max_upload_size) {
        return fail<fragment_plan>(bits_errc::upload_too_large);
    }

    fragment_plan plan;
    plan.offset = session.received;
    if (!known_total) plan.record_total = r.total;
    if (session.phase != session_phase::receiving) {
        // Closed (or closing): every byte is stored; a late retry is a duplicate.
        plan.session_closed = true;
        plan.skip = r.length();
        plan.offset = r.total;
        return succeed(plan);
    }

    const std::uint64_t expected = session.received;
    if (r.first > expected) {
        // The server keeps no sparse ranges: the client resends from where the bytes end.
        return fail<fragment_plan>(bits_errc::unexpected_offset, expected);
    }
    if (r.last < expected) {
        plan.skip = r.length();  // a full duplicate (lost Ack): write nothing
        return succeed(plan);
    }
    plan.skip = expected - r.first;  // partial overlap: only the new tail is written
    plan.write = r.last + 1 - expected;
    return succeed(plan);
}

outcome<close_action> engine::decide_close(const session_view& session) const {
    switch (session.phase) {
    case session_phase::receiving: {
        // No fragment at all is a zero-byte file (Decisions for bitsd); otherwise every byte.
        const bool complete = session.total ? session.received == *session.total
                                            : session.received == 0;
        if (!complete) return fail<close_action>(bits_errc::incomplete_upload);
        return succeed(close_action::commit);
    }
    case session_phase::committing:
        return succeed(close_action::commit);  // a commit interrupted by a crash: finish it
    case session_phase::closed:
        return succeed(close_action::already_closed);
    case session_phase::cancelled:
        break;
    }
    return fail<close_action>(bits_errc::session_not_found);
}

cancel_action engine::decide_cancel(const session_view& session) const {
    // Once Close-Session was received the file is delivered; Cancel has no effect on it.
    return session.phase == session_phase::receiving ? cancel_action::cancel
                                                      : cancel_action::already_finished;
}

response engine::ack(const packet& request) const {
    response r;
    r.headers.emplace_back("BITS-Packet-Type", "Ack");
    if (request.sent_session_id) r.headers.emplace_back("BITS-Session-Id", *request.sent_session_id);
    return r;
}

response engine::create_ack(const packet& create, std::string_view session_id) const {
    response r;
    r.headers.emplace_back("BITS-Packet-Type", "Ack");
    r.headers.emplace_back("BITS-Protocol", create.protocol);
    r.headers.emplace_back("BITS-Session-Id", std::string(session_id));
    r.headers.emplace_back("Accept-Encoding", "identity");
    if (settings_.host_id) {
        r.headers.emplace_back("BITS-Host-Id", *settings_.host_id);
        if (settings_.host_id_fallback_timeout_s) {
            r.headers.emplace_back("BITS-Host-Id-Fallback-Timeout",
                                   std::to_string(*settings_.host_id_fallback_timeout_s));
        }
    }
    return r;
}

response engine::fragment_ack(const packet& fragment, std::uint64_t received) const {
    response r = ack(fragment);
    r.headers.emplace_back("BITS-Received-Content-Range", std::to_string(received));
    return r;
}

response engine::error_response(const rejection& failure,
                                const std::optional<std::string>& echo_session_id) const {
    const error_answer answer = answer_for(failure.error);
    response r;
    r.status = answer.http_status;
    if (is_plain_http(failure.error)) {
        if (failure.error == bits_errc::method_not_allowed) r.headers.emplace_back("Allow", "BITS_POST");
        return r;
    }
    r.headers.emplace_back("BITS-Packet-Type", "Ack");
    if (echo_session_id) r.headers.emplace_back("BITS-Session-Id", *echo_session_id);
    if (failure.received) {
        r.headers.emplace_back("BITS-Received-Content-Range", std::to_string(*failure.received));
    }
    if (answer.hresult != 0) {
        const std::string code = format_hresult(answer.hresult);
        r.headers.emplace_back("BITS-Error-Code", code);
        r.headers.emplace_back("BITS-Error", code);
        r.headers.emplace_back("BITS-Error-Context", format_context(answer.context));
    }
    // A transient answer: when to try again. Windows waits its own retry delay anyway
    // (MinimumRetryDelay); other clients get a hint.
    if (failure.error == bits_errc::session_busy) r.headers.emplace_back("Retry-After", "5");
    if (failure.error == bits_errc::low_on_space) r.headers.emplace_back("Retry-After", "60");
    if (failure.error == bits_errc::too_many_sessions) r.headers.emplace_back("Retry-After", "10");
    if (failure.error == bits_errc::too_many_auth_failures) r.headers.emplace_back("Retry-After", "60");
    // The body of a too-large fragment is never read, so the connection cannot be reused.
    r.close_connection = failure.error == bits_errc::fragment_too_large;
    return r;
}

response engine::error_response(const std::error_code& error,
                                const std::optional<std::string>& echo_session_id) const {
    return error_response(rejection{error, std::nullopt}, echo_session_id);
}

}  // namespace bitsd::protocol
