// The rules of the notification exchange: the request sent to the back-end, the reading of its
// answer, the Reply-URL and the Range evaluation for serving the reply.
// Rules: bits-protocol.md §4.3, §4.4, §5.3-5.5 and the Decisions table; tests/data/wire/mcbup-4.2.json.

#include "protocol/notification.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>

using namespace bitsd::protocol;

namespace {

constexpr const char* session = "{C85B4E0A-9EB9-4114-BFA4-8A43B4710091}";

notification_input reference_input(std::string_view upload_target, std::string_view url) {
    notification_input input;
    input.upload = {"http", "frankcao8", upload_target};
    input.notification_url = url;
    input.type = notification_type::reference;
    input.request_data_file = "/var/lib/bitsd/sessions/requestfile.bin";
    input.response_data_file = "/var/lib/bitsd/sessions/responsefile.bin";
    input.session_id = session;
    input.size = 4892;
    input.idempotency_key = "9f3c1e4a-key";
    input.sha256_base64 = "36sC8kp+7oBFBU6oyNqkoE1sbFxqpU1NTI6BWy5PcKk=";
    return input;
}

std::string header(const header_list& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (key == name) return value;
    }
    return "<absent>";
}

backend_response answered(unsigned status, header_list headers = {}) {
    return {backend_transport::answered, status, std::move(headers)};
}

}  // namespace

TEST_CASE("delivery: a by-reference notification as in the MC-BUP 4.2 capture", "[delivery]") {
    notification_request request;
    const auto input =
        reference_input("/upload-ref-isapi-WebFarm/2100mb-rfc2119.txt", "http://frankcao8/bitsasp/test.REPLY");
    REQUIRE_FALSE(build_notification(input, request));
    CHECK(request.url == "http://frankcao8/bitsasp/test.REPLY");
    CHECK(request.scheme == "http");
    CHECK(request.host == "frankcao8");
    CHECK(request.port == 80);
    CHECK(request.host_header == "frankcao8");
    CHECK(request.target == "/bitsasp/test.REPLY");
    CHECK(request.body_length == 0);
    const header_list expected{
        {"BITS-Original-Request-URL", "http://frankcao8/upload-ref-isapi-WebFarm/2100mb-rfc2119.txt"},
        {"BITS-Request-DataFile-Name", "/var/lib/bitsd/sessions/requestfile.bin"},
        {"BITS-Response-DataFile-Name", "/var/lib/bitsd/sessions/responsefile.bin"},
        {"BITS-Session-Id", session},
        {"BITS-Upload-Size", "4892"},
        {"Idempotency-Key", "\"9f3c1e4a-key\""},
        {"Repr-Digest", "sha-256=:36sC8kp+7oBFBU6oyNqkoE1sbFxqpU1NTI6BWy5PcKk=:"},
        {"Content-Length", "0"},
    };
    CHECK(request.headers == expected);
}

TEST_CASE("delivery: a by-value notification carries the file and no data-file names", "[delivery]") {
    auto input = reference_input("/uploads/a.bin", "http://backend.internal:8080/ingest");
    input.type = notification_type::value;
    notification_request request;
    REQUIRE_FALSE(build_notification(input, request));
    CHECK(request.port == 8080);
    CHECK(request.host_header == "backend.internal:8080");
    CHECK(request.body_length == 4892);
    CHECK(header(request.headers, "BITS-Request-DataFile-Name") == "<absent>");
    CHECK(header(request.headers, "BITS-Response-DataFile-Name") == "<absent>");
    CHECK(header(request.headers, "BITS-Original-Request-URL") == "http://frankcao8/uploads/a.bin");
    CHECK(request.headers.back() == std::pair<std::string, std::string>{"Content-Length", "4892"});
}

TEST_CASE("delivery: notification URL resolution and the query carried over", "[delivery]") {
    struct row {
        const char* upload_target;
        const char* configured;
        const char* url;
        const char* target;
    };
    const row rows[] = {
        // [DOCS] BITSServerNotificationURL: the upload's query is appended.
        {"/myvdir/subdir/file.asp?ACCOUNT=86433", "http://otherserver/myvdir2/bag.asp",
         "http://otherserver/myvdir2/bag.asp?ACCOUNT=86433", "/myvdir2/bag.asp?ACCOUNT=86433"},
        // A notification URL with its own query: the upload's is joined with '&'.
        {"/u/f.bin?a=1", "http://b/n?x=2", "http://b/n?x=2&a=1", "/n?x=2&a=1"},
        {"/u/f.bin", "http://b/n?x=2", "http://b/n?x=2", "/n?x=2"},
        // Relative: resolved against the upload's directory, as IIS does with "myasp.asp".
        {"/myvdir/subdir/file.bin", "myasp.asp", "http://frankcao8/myvdir/subdir/myasp.asp",
         "/myvdir/subdir/myasp.asp"},
        {"/myvdir/subdir/file.bin?k=v", "../notify/go.asp", "http://frankcao8/myvdir/notify/go.asp?k=v",
         "/myvdir/notify/go.asp?k=v"},
        {"/myvdir/subdir/file.bin", "/root.asp", "http://frankcao8/root.asp", "/root.asp"},
        {"/myvdir/file.bin", "//other:81/n", "http://other:81/n", "/n"},
        {"/a/b.bin", "./n/./m/../x", "http://frankcao8/a/n/x", "/a/n/x"},
        // Absolute with no path, an IPv6 literal, https and surrounding blanks.
        {"/f", "http://backend", "http://backend/", "/"},
        {"/f", "http://[::1]:9000/hook", "http://[::1]:9000/hook", "/hook"},
        {"/f", "  https://Backend.example/hook  ", "https://Backend.example/hook", "/hook"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.upload_target, r.configured);
        notification_request request;
        auto input = reference_input(r.upload_target, r.configured);
        input.public_base_url = "http://frankcao8";  // relative references resolve against it
        REQUIRE_FALSE(build_notification(input, request));
        CHECK(request.url == r.url);
        CHECK(request.target == r.target);
    }

    notification_request v6;
    REQUIRE_FALSE(build_notification(reference_input("/f", "http://[::1]:9000/hook"), v6));
    CHECK(v6.host == "::1");
    CHECK(v6.port == 9000);
    notification_request tls;
    REQUIRE_FALSE(build_notification(reference_input("/f", "https://Backend.example/hook"), tls));
    CHECK(tls.port == 443);
    CHECK(tls.scheme == "https");
}

TEST_CASE("delivery: unusable notification and upload URLs are refused", "[delivery]") {
    struct row {
        const char* upload_target;
        const char* configured;
        notification_errc error;
    };
    const std::string too_long = "http://b/" + std::string(2200, 'a');
    const row rows[] = {
        {"/f", "", notification_errc::bad_notification_url},
        {"/f", "ftp://b/n", notification_errc::bad_notification_url},
        {"/f", "http:relative", notification_errc::bad_notification_url},
        {"/f", "http://user:pw@b/n", notification_errc::bad_notification_url},
        {"/f", "http://b:0/n", notification_errc::bad_notification_url},
        {"/f", "http://b:65536/n", notification_errc::bad_notification_url},
        {"/f", "http://b:x/n", notification_errc::bad_notification_url},
        {"/f", "http:///n", notification_errc::bad_notification_url},
        {"/f", "http://[::1/n", notification_errc::bad_notification_url},
        {"/f", "http://b/a b", notification_errc::bad_notification_url},
        {"/f", "http://b/n#frag", notification_errc::bad_notification_url},
        {"/f", too_long.c_str(), notification_errc::url_too_long},
        {"relative", "http://b/n", notification_errc::bad_upload_url},
        {"", "http://b/n", notification_errc::bad_upload_url},
        {"/f", "notify.asp", notification_errc::needs_public_base_url},
        {"/f", "//other/n", notification_errc::needs_public_base_url},
    };
    for (const auto& r : rows) {
        CAPTURE(r.upload_target, r.configured);
        notification_request request;
        request.url = "untouched";
        CHECK(build_notification(reference_input(r.upload_target, r.configured), request) == r.error);
        CHECK(request.url == "untouched");
    }
    auto bad_scheme = reference_input("/f", "n");
    bad_scheme.upload.scheme = "ftp";
    notification_request request;
    CHECK(build_notification(bad_scheme, request) == notification_errc::bad_upload_url);
    // The upload query makes an acceptable URL too long.
    const std::string long_query = "/f?" + std::string(2190, 'q');
    CHECK(build_notification(reference_input(long_query, "http://b/n"), request) ==
          notification_errc::url_too_long);
}

TEST_CASE("delivery: the back-end's URLs come from the public base, never the client's Host", "[delivery]") {
    auto input = reference_input("/uploads/dir/a.bin?t=1", "../hook");
    input.upload.host = "attacker.example:1";  // whatever the caller passes as upload host
    input.public_base_url = "https://bits.example.org/";
    notification_request request;
    REQUIRE_FALSE(build_notification(input, request));
    CHECK(request.url == "https://bits.example.org/uploads/hook?t=1");
    CHECK(request.host == "bits.example.org");
    CHECK(request.port == 443);
    CHECK(header(request.headers, "BITS-Original-Request-URL") == "https://bits.example.org/uploads/dir/a.bin?t=1");
    // An absolute notification URL: only BITS-Original-Request-URL uses the base.
    input.notification_url = "http://backend.internal/ingest";
    REQUIRE_FALSE(build_notification(input, request));
    CHECK(request.url == "http://backend.internal/ingest?t=1");
    CHECK(header(request.headers, "BITS-Original-Request-URL") == "https://bits.example.org/uploads/dir/a.bin?t=1");
    // A public base that is not one is refused, never half used.
    input.public_base_url = "https://bits.example.org/path";
    CHECK(build_notification(input, request) == notification_errc::bad_notification_url);
}

TEST_CASE("delivery: public_base_url's form", "[delivery]") {
    std::string scheme;
    std::string authority;
    REQUIRE(parse_public_base_url("HTTPS://Bits.Example.org:8443/", scheme, authority));
    CHECK(scheme == "https");
    CHECK(authority == "Bits.Example.org:8443");
    REQUIRE(parse_public_base_url("http://[::1]", scheme, authority));
    CHECK(authority == "[::1]");
    for (const char* bad : {"", "bits.example.org", "ftp://b", "https://", "https://u@b", "https://b/p",
                            "https://b?q", "https://b/?q", "https://b#f", "https://b:0", "https://b:65536",
                            "https://b c", "//b", "/p"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_public_base_url(bad, scheme, authority));
    }
    CHECK(is_absolute_reference("http://b/n"));
    CHECK(is_absolute_reference(" https://b/n"));
    CHECK_FALSE(is_absolute_reference("notify.asp"));
    CHECK_FALSE(is_absolute_reference("/hook"));
    CHECK_FALSE(is_absolute_reference("//b/hook"));
}

TEST_CASE("delivery: bytes a URL cannot carry raw are percent-encoded, the rest kept", "[delivery]") {
    CHECK(encode_target("/u/a{b}.bin?x=|") == "/u/a%7Bb%7D.bin?x=%7C");
    CHECK(encode_target("/u/c^d`e\"<>\\#") == "/u/c%5Ed%60e%22%3C%3E%5C%23");
    CHECK(encode_target("/u/caf\xC3\xA9 x\x7F") == "/u/caf%C3%A9%20x%7F");
    CHECK(encode_target("/u/already%7Bdone%7D?a=b&c=%20") == "/u/already%7Bdone%7D?a=b&c=%20");
    // Such a target notifies, and the reply URL is built from it.
    notification_request request;
    REQUIRE_FALSE(build_notification(reference_input("/u/a{b}.bin?x=\xC3\xA9", "http://b/n"), request));
    CHECK(header(request.headers, "BITS-Original-Request-URL") == "http://frankcao8/u/a%7Bb%7D.bin?x=%C3%A9");
    CHECK(request.target == "/n?x=%C3%A9");
    std::string url;
    REQUIRE_FALSE(build_reply_url({"http", "h", "/u/d{1}/f"}, "r/1", url));
    CHECK(url == "http://h/u/d%7B1%7D/r/1");
}

TEST_CASE("delivery: back-end answers, row by row", "[delivery]") {
    struct row {
        unsigned status;
        delivery_outcome outcome;
        unsigned client_status;  // 0: not an error
        std::uint32_t hresult;
    };
    using o = delivery_outcome;
    const row rows[] = {
        {200, o::delivered, 0, 0},
        {201, o::delivered, 0, 0},
        {204, o::delivered, 0, 0},
        // Decisions table: S -> S + 0x80190000+S where Windows classifies S as bitsd does.
        {500, o::failed_transient, 500, 0x801901F4},
        {502, o::failed_transient, 502, 0x801901F6},
        {503, o::failed_transient, 503, 0x801901F7},
        {504, o::failed_transient, 504, 0x801901F8},
        {408, o::failed_transient, 408, 0x80190198},
        {400, o::failed_fatal, 400, 0x80190190},
        {401, o::failed_fatal, 401, 0x80190191},
        {403, o::failed_fatal, 403, 0x80190193},
        {404, o::failed_fatal, 404, 0x80190194},
        {413, o::failed_fatal, 413, 0x8019019D},
        // Windows would stop on these though bitsd retries them: 503 keeps the client retrying.
        {429, o::failed_transient, 503, 0x801901AD},
        {501, o::failed_transient, 503, 0x801901F5},
        {505, o::failed_transient, 503, 0x801901F9},
        // Windows retries 409 forever though bitsd gives up: 403 stops it.
        {409, o::failed_fatal, 403, 0x80190199},
        // Redirects are failures, never followed, and never shown to the client as redirects.
        {301, o::failed_transient, 503, 0x8019012D},
        {302, o::failed_transient, 503, 0x8019012E},
        {307, o::failed_transient, 503, 0x80190133},
        {308, o::failed_transient, 503, 0x80190134},
        {304, o::failed_transient, 503, 0x80190130},
        // Statuses HTTP does not define.
        {101, o::failed_transient, 503, 0x80190065},
        {600, o::failed_transient, 503, 0x80190258},
    };
    for (const auto& r : rows) {
        CAPTURE(r.status);
        const auto verdict = classify_backend_response(notification_type::reference, answered(r.status));
        CHECK(verdict.outcome == r.outcome);
        CHECK_FALSE(verdict.reason.empty());
        if (r.outcome == o::delivered) {
            CHECK(verdict.reply == reply_source::response_data_file);
            continue;
        }
        CHECK(verdict.reply == reply_source::none);
        CHECK(verdict.client_answer.http_status == r.client_status);
        CHECK(verdict.client_answer.hresult == r.hresult);
        CHECK(verdict.client_answer.context == 0x7);
    }
}

TEST_CASE("delivery: transport failures are transient with the Decisions table's answers", "[delivery]") {
    struct row {
        backend_transport transport;
        unsigned client_status;
        std::uint32_t hresult;
    };
    const row rows[] = {
        {backend_transport::timed_out, 408, 0x80190198},
        {backend_transport::unreachable, 503, 0x801901F7},
        {backend_transport::connection_dropped, 503, 0x801901F7},
        {backend_transport::malformed_response, 502, 0x801901F6},
    };
    for (const auto& r : rows) {
        CAPTURE(static_cast<int>(r.transport));
        const auto verdict = classify_backend_response(notification_type::value, {r.transport, 0, {}});
        CHECK(verdict.outcome == delivery_outcome::failed_transient);
        CHECK(verdict.client_answer.http_status == r.client_status);
        CHECK(verdict.client_answer.hresult == r.hresult);
        CHECK(verdict.client_answer.context == 0x7);
        CHECK(verdict.reply == reply_source::none);
    }
}

TEST_CASE("delivery: where the reply comes from and the copy request", "[delivery]") {
    SECTION("by value, the body is the reply") {
        const auto verdict = classify_backend_response(notification_type::value, answered(200));
        CHECK(verdict.reply == reply_source::response_body);
        CHECK_FALSE(verdict.copy_to_destination);
    }
    SECTION("a static URL wins over the body and the data file, names compared case-insensitively") {
        for (const auto type : {notification_type::value, notification_type::reference}) {
            const auto verdict = classify_backend_response(
                type, answered(200, {{"bits-static-response-url", " https://cdn.example/r/1 "},
                                     {"BITS-COPY-FILE-TO-DESTINATION", ""}}));
            CHECK(verdict.outcome == delivery_outcome::delivered);
            CHECK(verdict.reply == reply_source::static_url);
            CHECK(verdict.static_reply_url == "https://cdn.example/r/1");
            CHECK(verdict.copy_to_destination);  // any value, even an empty one
        }
    }
    SECTION("an empty static URL counts as none") {
        const auto verdict = classify_backend_response(
            notification_type::reference, answered(200, {{"BITS-Static-Response-URL", "  "}}));
        CHECK(verdict.reply == reply_source::response_data_file);
    }
    SECTION("a static URL that is not absolute or too long is 400 + E_INVALIDARG, context 0x7") {
        const std::string too_long = "http://cdn/" + std::string(2200, 'r');
        for (const std::string& bad : {std::string("relative/reply"), std::string("ftp://x/r"), too_long,
                                       std::string("http://x/a b")}) {
            CAPTURE(bad);
            const auto verdict = classify_backend_response(
                notification_type::reference, answered(200, {{"BITS-Static-Response-URL", bad}}));
            CHECK(verdict.outcome == delivery_outcome::failed_fatal);
            CHECK(verdict.client_answer.http_status == 400);
            CHECK(verdict.client_answer.hresult == 0x80070057);
            CHECK(verdict.client_answer.context == 0x7);
        }
    }
    SECTION("headers of a failed answer are not acted on") {
        const auto verdict = classify_backend_response(
            notification_type::value, answered(500, {{"BITS-Copy-File-To-Destination", "yes"},
                                                     {"BITS-Static-Response-URL", "http://x/r"}}));
        CHECK_FALSE(verdict.copy_to_destination);
        CHECK(verdict.reply == reply_source::none);
    }
}

TEST_CASE("delivery: the Reply-URL is absolute with forward slashes", "[delivery]") {
    const upload_url upload{"http", "frankcao8", "/upload-ref-isapi-WebFarm/2100mb-rfc2119.txt?x=1"};
    struct row {
        const char* reply_path;
        const char* url;
    };
    const row rows[] = {
        // IIS's relative, backslashed form, as the Windows client resolved it in the capture.
        {"BITS-Sessions\\Replies\\{C85B4E0A-9EB9-4114-BFA4-8A43B4710091}\\responsefile.bin",
         "http://frankcao8/upload-ref-isapi-WebFarm/BITS-Sessions/Replies/"
         "%7BC85B4E0A-9EB9-4114-BFA4-8A43B4710091%7D/responsefile.bin"},
        {"/replies/{A}/reply.bin", "http://frankcao8/replies/%7BA%7D/reply.bin"},
        {"/r//a b%/", "http://frankcao8/r/a%20b%25"},
        {"r\xC3\xA9ply", "http://frankcao8/upload-ref-isapi-WebFarm/r%C3%A9ply"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.reply_path);
        std::string url;
        REQUIRE_FALSE(build_reply_url(upload, r.reply_path, url));
        CHECK(url == r.url);
    }
    std::string url;
    REQUIRE_FALSE(build_reply_url({"https", "[::1]:8443", "/u/f"}, "/r/1", url));
    CHECK(url == "https://[::1]:8443/r/1");

    for (const char* bad : {"", "/", "\\", "a/../b", "./x", "a\\..\\b"}) {
        CAPTURE(bad);
        url = "untouched";
        CHECK(build_reply_url(upload, bad, url) == notification_errc::bad_reply_path);
        CHECK(url == "untouched");
    }
    CHECK(build_reply_url({"gopher", "h", "/f"}, "/r", url) == notification_errc::bad_upload_url);
    CHECK(build_reply_url({"http", "", "/f"}, "/r", url) == notification_errc::bad_upload_url);
    CHECK(build_reply_url(upload, "/" + std::string(2200, 'r'), url) == notification_errc::url_too_long);
    CHECK(absolute_url(upload) == "http://frankcao8/upload-ref-isapi-WebFarm/2100mb-rfc2119.txt?x=1");
}

TEST_CASE("delivery: Range evaluation for serving the reply", "[delivery]") {
    struct row {
        const char* range;  // nullptr: no Range header
        std::uint64_t size;
        unsigned status;
        std::uint64_t first;
        std::uint64_t length;
        const char* content_range;
    };
    const row rows[] = {
        {nullptr, 10240, 200, 0, 10240, ""},
        // The capture: "bytes=0-9976" of 10240 bytes.
        {"bytes=0-9976", 10240, 206, 0, 9977, "bytes 0-9976/10240"},
        {"bytes=9977-", 10240, 206, 9977, 263, "bytes 9977-10239/10240"},
        {"bytes=-100", 10240, 206, 10140, 100, "bytes 10140-10239/10240"},
        {"bytes=-20000", 10240, 206, 0, 10240, "bytes 0-10239/10240"},
        {"bytes=10000-99999", 10240, 206, 10000, 240, "bytes 10000-10239/10240"},
        {"bytes=5-5", 10240, 206, 5, 1, "bytes 5-5/10240"},
        {"Bytes = 1-2", 10, 206, 1, 2, "bytes 1-2/10"},
        // Unsatisfiable.
        {"bytes=10240-", 10240, 416, 0, 0, "bytes */10240"},
        {"bytes=20000-30000", 10240, 416, 0, 0, "bytes */10240"},
        {"bytes=-0", 10240, 416, 0, 0, "bytes */10240"},
        {"bytes=0-", 0, 416, 0, 0, "bytes */0"},
        {"bytes=-5", 0, 416, 0, 0, "bytes */0"},
        // Ignored (RFC 9110 §14.2): the whole file.
        {nullptr, 0, 200, 0, 0, ""},
        {"bytes=5-1", 10, 200, 0, 10, ""},
        {"bytes=0-1,4-5", 10, 200, 0, 10, ""},
        {"items=0-1", 10, 200, 0, 10, ""},
        {"bytes=", 10, 200, 0, 10, ""},
        {"bytes=-", 10, 200, 0, 10, ""},
        {"bytes=a-b", 10, 200, 0, 10, ""},
        {"bytes=1-x", 10, 200, 0, 10, ""},
        {"bytes 0-1", 10, 200, 0, 10, ""},
        {"bytes=+1-2", 10, 200, 0, 10, ""},
        {"bytes=99999999999999999999-", 10, 200, 0, 10, ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.range ? r.range : "<none>", r.size);
        const auto answer = r.range ? evaluate_range(std::string_view(r.range), r.size)
                                    : evaluate_range(std::nullopt, r.size);
        CHECK(answer.status == r.status);
        CHECK(answer.first == r.first);
        CHECK(answer.length == r.length);
        CHECK(answer.content_range == r.content_range);
    }
}

TEST_CASE("delivery: notification errors have their own category and messages", "[delivery]") {
    const std::error_code ec = notification_errc::bad_reply_path;
    CHECK(ec.category().name() == std::string("bitsd.notification"));
    CHECK_FALSE(ec.message().empty());
    CHECK(repr_digest_value("AA==") == "sha-256=:AA==:");
    CHECK(idempotency_key_value("3f0c2a9e-8b1d") == "\"3f0c2a9e-8b1d\"");
    CHECK(idempotency_key_value("a\"b\\c") == "\"a\\\"b\\\\c\"");
}
