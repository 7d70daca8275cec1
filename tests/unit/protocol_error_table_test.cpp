// The error table: every bits_errc value -> HTTP status, HRESULT and context, and the HRESULT
// text format. Rules: bits-protocol.md "Decisions for bitsd", §4.1, §4.2.

#include "protocol/bits_error.hpp"
#include "protocol/engine.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <system_error>

using namespace bitsd::protocol;

namespace {

constexpr std::uint32_t e_invalidarg = 0x80070057;
constexpr std::uint32_t e_accessdenied = 0x80070005;
constexpr std::uint32_t e_fail = 0x80004005;
constexpr std::uint32_t bg_e_session_not_found = 0x8020001F;
constexpr std::uint32_t bg_e_too_large = 0x80200020;
constexpr std::uint32_t error_disk_full = 0x80070070;

struct table_row {
    bits_errc error;
    const char* name;
    unsigned status;
    std::uint32_t hresult;
    std::uint32_t context;
};

// Every enumerator of bits_errc, with the answer the Decisions table asks for.
const table_row rows[] = {
    {bits_errc::unknown_packet_type, "unknown_packet_type", 400, e_invalidarg, 0x5},
    {bits_errc::missing_content_length, "missing_content_length", 400, e_invalidarg, 0x5},
    {bits_errc::bad_content_length, "bad_content_length", 400, e_invalidarg, 0x5},
    {bits_errc::body_not_allowed, "body_not_allowed", 400, e_invalidarg, 0x5},
    {bits_errc::missing_session_id, "missing_session_id", 400, e_invalidarg, 0x5},
    {bits_errc::missing_content_range, "missing_content_range", 400, e_invalidarg, 0x5},
    {bits_errc::bad_content_range, "bad_content_range", 400, e_invalidarg, 0x5},
    {bits_errc::content_length_mismatch, "content_length_mismatch", 400, e_invalidarg, 0x5},
    {bits_errc::total_changed, "total_changed", 400, e_invalidarg, 0x5},
    {bits_errc::header_too_long, "header_too_long", 400, e_invalidarg, 0x5},
    {bits_errc::missing_supported_protocols, "missing_supported_protocols", 400, e_invalidarg, 0x5},
    {bits_errc::no_common_protocol, "no_common_protocol", 400, e_invalidarg, 0x5},
    {bits_errc::unsupported_content_encoding, "unsupported_content_encoding", 400, e_invalidarg, 0x5},
    {bits_errc::chunked_body_not_supported, "chunked_body_not_supported", 400, e_invalidarg, 0x5},
    {bits_errc::bad_destination_path, "bad_destination_path", 400, e_invalidarg, 0x5},
    {bits_errc::destination_is_directory, "destination_is_directory", 400, e_invalidarg, 0x5},
    {bits_errc::destination_unusable, "destination_unusable", 400, e_invalidarg, 0x5},
    {bits_errc::incomplete_upload, "incomplete_upload", 400, e_invalidarg, 0x5},
    {bits_errc::malformed_request, "malformed_request", 400, e_invalidarg, 0x5},
    {bits_errc::duplicate_header, "duplicate_header", 400, e_invalidarg, 0x5},
    {bits_errc::bad_host, "bad_host", 400, e_invalidarg, 0x5},
    {bits_errc::url_not_deliverable, "url_not_deliverable", 400, e_invalidarg, 0x5},
    {bits_errc::destination_exists, "destination_exists", 403, e_accessdenied, 0x5},
    {bits_errc::destination_is_link, "destination_is_link", 403, e_accessdenied, 0x5},
    {bits_errc::fragment_too_large, "fragment_too_large", 413, 0, 0},
    {bits_errc::unexpected_offset, "unexpected_offset", 416, 0, 0},
    {bits_errc::session_not_found, "session_not_found", 500, bg_e_session_not_found, 0x5},
    {bits_errc::upload_too_large, "upload_too_large", 500, bg_e_too_large, 0x5},
    {bits_errc::disk_full, "disk_full", 500, error_disk_full, 0x5},
    {bits_errc::internal_error, "internal_error", 500, e_fail, 0x5},
    {bits_errc::upload_url_not_found, "upload_url_not_found", 404, 0, 0},
    {bits_errc::not_found, "not_found", 404, 0, 0},
    {bits_errc::method_not_allowed, "method_not_allowed", 405, 0, 0},
    {bits_errc::session_busy, "session_busy", 503, 0x801901F7, 0x5},
    {bits_errc::low_on_space, "low_on_space", 503, 0x801901F7, 0x5},
    {bits_errc::too_many_sessions, "too_many_sessions", 503, 0x801901F7, 0x5},
    {bits_errc::user_session_limit, "user_session_limit", 403, e_accessdenied, 0x5},
    {bits_errc::unauthorized, "unauthorized", 401, 0, 0},
    {bits_errc::access_denied, "access_denied", 403, e_accessdenied, 0x5},
    {bits_errc::too_many_auth_failures, "too_many_auth_failures", 503, 0x801901F7, 0x5},
};

}  // namespace

TEST_CASE("protocol: answer_for maps every bits_errc per the Decisions table",
          "[protocol][error_table]") {
    // The rows cover the enum: values 1..too_many_auth_failures (the last), each exactly once.
    CHECK(sizeof rows / sizeof rows[0] == static_cast<std::size_t>(bits_errc::too_many_auth_failures));
    std::set<int> values;
    for (const table_row& r : rows) values.insert(static_cast<int>(r.error));
    CHECK(values.size() == sizeof rows / sizeof rows[0]);
    CHECK(*values.begin() == 1);

    for (const table_row& row : rows) {
        CAPTURE(row.name);
        const std::error_code ec = row.error;  // is_error_code_enum makes this implicit
        CHECK(ec == make_error_code(row.error));
        CHECK(ec.category() == bits_category());
        const error_answer a = answer_for(ec);
        CHECK(a.http_status == row.status);
        CHECK(a.hresult == row.hresult);
        CHECK(a.context == row.context);
    }
}

TEST_CASE("protocol: the Decisions table's specific answers", "[protocol][error_table]") {
    // Spelled out once more, one rule per line, so a wrong row names the rule it breaks.
    CHECK(answer_for(bits_errc::missing_content_length).http_status == 400);  // not 411
    CHECK(answer_for(bits_errc::destination_exists).http_status == 403);      // never 409
    CHECK(answer_for(bits_errc::destination_exists).hresult == 0x80070005);
    CHECK(answer_for(bits_errc::fragment_too_large).http_status == 413);
    CHECK(answer_for(bits_errc::upload_too_large).http_status == 500);        // not 413
    CHECK(answer_for(bits_errc::upload_too_large).hresult == 0x80200020);
    CHECK(answer_for(bits_errc::disk_full).http_status == 500);
    CHECK(answer_for(bits_errc::disk_full).hresult == 0x80070070);            // not the spec's x80070112
    CHECK(answer_for(bits_errc::internal_error).hresult == 0x80004005);
    CHECK(answer_for(bits_errc::session_not_found).hresult == 0x8020001F);
    CHECK(answer_for(bits_errc::unexpected_offset).hresult == 0);              // 416 carries no error
    CHECK(answer_for(bits_errc::incomplete_upload).http_status == 400);
    CHECK(answer_for(bits_errc::incomplete_upload).hresult == 0x80070057);
    CHECK(answer_for(bits_errc::session_busy).http_status == 503);           // transient
    CHECK(answer_for(bits_errc::session_busy).hresult == 0x801901F7);
    CHECK(context_server == 0x5);
    CHECK(context_application == 0x7);
}

TEST_CASE("protocol: foreign error codes answer as internal_error", "[protocol][error_table]") {
    const error_answer internal = answer_for(bits_errc::internal_error);
    REQUIRE(internal.http_status == 500);
    const std::error_code foreign[] = {
        std::make_error_code(std::errc::no_space_on_device),
        std::make_error_code(std::errc::permission_denied),
        std::make_error_code(std::errc::no_such_file_or_directory),
        std::error_code(404, std::generic_category()),   // same number as a bits_errc, other category
        std::error_code(static_cast<int>(bits_errc::session_not_found), std::system_category()),
        std::make_error_code(std::io_errc::stream),
    };
    for (const std::error_code& ec : foreign) {
        CAPTURE(ec.category().name(), ec.value());
        const error_answer a = answer_for(ec);
        CHECK(a.http_status == 500);
        CHECK(a.hresult == 0x80004005);
        CHECK(a.context == 0x5);
    }
    // Values outside the enum in our own category are not trusted either.
    for (int value : {0, 999, -1}) {
        CAPTURE(value);
        const error_answer a = answer_for(std::error_code(value, bits_category()));
        CHECK(a.http_status == 500);
        CHECK(a.hresult == 0x80004005);
    }
}

TEST_CASE("protocol: bits_category names and messages", "[protocol][error_table]") {
    CHECK(std::string(bits_category().name()) == "bitsd.protocol");
    CHECK(&bits_category() == &bits_category());
    std::set<std::string> messages;
    for (const table_row& row : rows) {
        CAPTURE(row.name);
        const std::string m = make_error_code(row.error).message();
        CHECK_FALSE(m.empty());
        messages.insert(m);
    }
    CHECK(messages.size() == sizeof rows / sizeof rows[0]);  // each error says something different
}

TEST_CASE("protocol: format_hresult is 0x and eight upper-case hex digits", "[protocol][error_table]") {
    struct hr_case {
        std::uint32_t value;
        const char* text;
    };
    const hr_case c = GENERATE(values<hr_case>({
        {0x80070057, "0x80070057"},
        {0x8020001F, "0x8020001F"},
        {0x80200020, "0x80200020"},
        {0x80070070, "0x80070070"},
        {0x80070005, "0x80070005"},
        {0x80004005, "0x80004005"},
        {0x801901F7, "0x801901F7"},
        {0xabcdef12, "0xABCDEF12"},
        {0, "0x00000000"},
        {0x5, "0x00000005"},
        {0xFFFFFFFF, "0xFFFFFFFF"},
    }));
    CAPTURE(c.value);
    CHECK(format_hresult(c.value) == c.text);
}
