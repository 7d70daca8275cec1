// The request classifier: fuzzed bytes are read as an HTTP request head (request line, then
// "Name: value" lines, CRLF or LF), turned into the protocol::request_view the server would
// build, and run through engine::parse and protocol::route. Whatever parse accepts must be a
// consistent packet, and every answer (Ack or error) must be formable without crashing.

#include "fuzz_check.hpp"

#include "protocol/engine.hpp"
#include "protocol/upload_path.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace bitsd::protocol;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

// The first field of each kind wins, as Beast's find() does; the counts let parse() refuse
// duplicates.
void set_field(std::optional<std::string_view>& field, std::size_t* count, std::string_view value) {
    if (!field) field = value;
    if (count) ++*count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto lines = split_lines(input);
    if (lines.empty()) return 0;

    request_view request;
    request.host_count = 0;
    // Request line: method SP target SP version (a missing part stays empty).
    std::string_view line = lines[0];
    const auto sp1 = line.find(' ');
    request.method = line.substr(0, sp1);
    if (sp1 != std::string_view::npos) {
        line.remove_prefix(sp1 + 1);
        const auto sp2 = line.find(' ');
        request.target = line.substr(0, sp2);
        const auto version = sp2 == std::string_view::npos ? std::string_view() : line.substr(sp2 + 1);
        request.http_version = version == "HTTP/1.0" ? 10 : 11;
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto colon = lines[i].find(':');
        if (colon == std::string_view::npos) continue;
        const auto name = lines[i].substr(0, colon);
        const auto value = trim(lines[i].substr(colon + 1));
        request.longest_header_value = std::max(request.longest_header_value, value.size());
        if (iequals(name, "BITS-Packet-Type")) {
            set_field(request.packet_type, &request.packet_type_count, value);
        } else if (iequals(name, "BITS-Session-Id")) {
            set_field(request.session_id, &request.session_id_count, value);
        } else if (iequals(name, "Content-Length")) {
            set_field(request.content_length, &request.content_length_count, value);
        } else if (iequals(name, "Content-Range")) {
            set_field(request.content_range, &request.content_range_count, value);
        } else if (iequals(name, "BITS-Supported-Protocols")) {
            set_field(request.supported_protocols, nullptr, value);
        } else if (iequals(name, "Content-Encoding")) {
            set_field(request.content_encoding, nullptr, value);
        } else if (iequals(name, "Transfer-Encoding")) {
            request.chunked = request.chunked || value.find("chunked") != std::string_view::npos;
        } else if (iequals(name, "Host")) {
            ++request.host_count;
        }
    }

    engine_settings settings;
    settings.max_fragment_size = 1024 * 1024;
    settings.host_id = "bitsd-fuzz";
    settings.host_id_fallback_timeout_s = 60;
    const engine bits(settings);

    const auto parsed = bits.parse(request);
    if (parsed) {
        const packet& p = *parsed.value;
        FUZZ_CHECK(request.packet_type.has_value());
        FUZZ_CHECK(parse_packet_type(*request.packet_type) == p.kind);
        FUZZ_CHECK(!request.chunked);
        FUZZ_CHECK(request.longest_header_value <= max_header_value_length);
        FUZZ_CHECK(p.range.has_value() == (p.kind == packet_kind::fragment));
        if (p.range) {
            FUZZ_CHECK(p.range->first <= p.range->last && p.range->last < p.range->total);
            FUZZ_CHECK(p.range->length() == p.content_length);
            FUZZ_CHECK(p.content_length <= settings.max_fragment_size);
        } else {
            FUZZ_CHECK(p.content_length == 0);
        }
        if (p.kind != packet_kind::ping && p.kind != packet_kind::create_session) {
            FUZZ_CHECK(p.session_id.has_value());
        }
        FUZZ_CHECK(p.session_id.has_value() == p.sent_session_id.has_value());
        if (p.session_id_valid) {
            // The lookup key is the canonical form, and canonical forms are fixed points.
            FUZZ_CHECK(normalize_session_id(*p.session_id) == p.session_id);
        }
        if (p.kind == packet_kind::create_session) {
            FUZZ_CHECK(p.protocol == bits_upload_protocol_guid);
            (void)bits.create_ack(p, "{00000000-0000-4000-8000-000000000000}");
        } else if (p.kind == packet_kind::fragment) {
            (void)bits.fragment_ack(p, p.range->last + 1);
        } else {
            (void)bits.ack(p);
        }
    } else {
        FUZZ_CHECK(static_cast<bool>(parsed.failure.error));
        (void)bits.error_response(parsed.failure, std::optional<std::string>(std::string(request.method)));
    }

    const std::vector<std::string> prefixes{"/uploads/", "/uploads/private/", "/"};
    const auto routed = route(request.method, request.target, prefixes);
    if (!routed.error) {
        FUZZ_CHECK(request.method == "BITS_POST");
        FUZZ_CHECK(routed.location.prefix_index < prefixes.size());
        FUZZ_CHECK(!routed.location.segments.empty());
    } else {
        (void)bits.error_response(routed.error, std::nullopt);
    }
    return 0;
}
