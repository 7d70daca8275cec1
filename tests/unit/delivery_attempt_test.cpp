// One delivery attempt (issue 7): the request it builds from a delivery record, the key it
// mints, and real attempts against tests/e2e/backend_server.py on 127.0.0.1.

#include "delivery/content_digest.hpp"
#include "delivery/delivery_attempt.hpp"
#include "delivery/delivery_error.hpp"
#include "delivery/request_signature.hpp"

#include "backend_process.hpp"
#include "temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <cctype>
#include <fstream>
#include <set>
#include <string>

using namespace bitsd::delivery;
namespace protocol = bitsd::protocol;
namespace storage = bitsd::storage;

namespace {

std::string header(const protocol::header_list& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (key == name) return value;
    }
    return "<absent>";
}

std::string recorded_header(const nlohmann::json& request, const std::string& name) {
    for (const auto& pair : request.at("headers")) {
        std::string key = pair.at(0).get<std::string>();
        if (key.size() == name.size() &&
            std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            return pair.at(1).get<std::string>();
        }
    }
    return "<absent>";
}

attempt_input sample_input(const std::string& url, protocol::notification_type type) {
    attempt_input input;
    input.settings.type = type;
    input.settings.url = url;
    input.settings.timeout = std::chrono::seconds(20);
    input.session_id = "{11111111-2222-3333-4444-555555555555}";
    input.data_file = "/data/sessions/11/X/data";
    input.response_file = "/data/sessions/11/X/reply";
    input.size = 5;
    input.record.state = storage::delivery_state::delivering;
    input.record.sha256_base64 = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";  // "hello"
    input.record.idempotency_key = "0123456789abcdef0123456789abcdef";
    input.record.upload_scheme = "http";
    input.record.upload_host = "bits.example:8080";
    input.record.upload_target = "/uploads/a.bin?tenant=7";
    return input;
}

struct attempt_result {
    protocol::delivery_verdict verdict;
    std::error_code local_error;
    bool called = false;
};

attempt_result attempt(const attempt_input& input) {
    boost::asio::io_context context;
    http_client client(context, http_client_options{});
    attempt_result result;
    run_delivery_attempt(client, input, [&](protocol::delivery_verdict verdict, std::error_code ec) {
        result.verdict = std::move(verdict);
        result.local_error = ec;
        result.called = true;
    });
    context.run();
    REQUIRE(result.called);
    return result;
}

}  // namespace

TEST_CASE("delivery: minted idempotency keys are 128-bit lower-case hex tokens, never repeated", "[delivery]") {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto key = mint_idempotency_key();
        REQUIRE(key.size() == 32);
        for (char c : key) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
        CHECK(seen.insert(key).second);
    }
}

TEST_CASE("delivery: an attempt by reference carries the record's key, digest and location", "[delivery]") {
    auto input = sample_input("notify?x=1", protocol::notification_type::reference);
    input.settings.public_base_url = "https://public.example:8443";
    http_request request;
    REQUIRE_FALSE(build_attempt_request(input, 1700000000, request));
    CHECK(request.host == "public.example");
    CHECK(request.port == 8443);
    CHECK(request.target == "/uploads/notify?x=1&tenant=7");
    CHECK(header(request.headers, "BITS-Original-Request-URL") ==
          "https://public.example:8443/uploads/a.bin?tenant=7");
    // Without a public base, a relative notification URL resolves against nothing.
    input.settings.public_base_url.clear();
    CHECK(build_attempt_request(input, 1700000000, request) == protocol::notification_errc::needs_public_base_url);
    input.settings.url = "http://backend.internal/ingest";
    REQUIRE_FALSE(build_attempt_request(input, 1700000000, request));
    CHECK(header(request.headers, "BITS-Request-DataFile-Name") == input.data_file);
    CHECK(header(request.headers, "BITS-Response-DataFile-Name") == input.response_file);
    CHECK(header(request.headers, "Idempotency-Key") == "\"0123456789abcdef0123456789abcdef\"");
    CHECK(header(request.headers, "Repr-Digest") == "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:");
    CHECK(header(request.headers, "BITS-Upload-Size") == "5");
    CHECK(header(request.headers, "BITS-Signature") == "<absent>");  // no secret configured
    CHECK(request.body_file.empty());
    CHECK(request.reply_file.empty());  // the back-end writes the reply file itself
    CHECK(request.overall_timeout == std::chrono::seconds(20));
}

TEST_CASE("delivery: an attempt by value streams the data file and saves the reply; signed when a secret is set", "[delivery]") {
    auto input = sample_input("http://backend.internal/ingest", protocol::notification_type::value);
    input.settings.signing_secret = "s3cret";
    http_request request;
    REQUIRE_FALSE(build_attempt_request(input, 1700000000, request));
    CHECK(request.target == "/ingest?tenant=7");
    CHECK(request.body_file == input.data_file);
    CHECK(request.body_length == 5);
    CHECK(request.reply_file == input.response_file);
    CHECK(header(request.headers, "BITS-Request-DataFile-Name") == "<absent>");
    auto unsigned_headers = request.headers;
    unsigned_headers.erase(unsigned_headers.end() - 2);  // the signature, just before Content-Length
    const auto expected =
        request_signature::from_secret("s3cret").header_value(1700000000, "POST", request.target, unsigned_headers);
    CHECK(header(request.headers, "BITS-Signature") == expected);
    CHECK(expected.find(",v1=") != std::string::npos);
    CHECK(expected.find(",v2=") != std::string::npos);
    CHECK(request.headers.back().first == "Content-Length");  // the signature goes before it
}

TEST_CASE("delivery: an attempt whose notification cannot be built is a local error, reported on the context", "[delivery]") {
    auto input = sample_input("http://backend.internal/ingest", protocol::notification_type::reference);
    input.record.upload_host = "bad host";
    const auto result = attempt(input);
    CHECK(result.local_error);
    // The same record fails the same way every time: nothing for a retry to fix.
    CHECK(is_permanent_local_failure(result.local_error));
}

TEST_CASE("delivery: which local failures no retry can fix", "[delivery]") {
    CHECK(is_permanent_local_failure(protocol::notification_errc::url_too_long));
    CHECK(is_permanent_local_failure(protocol::notification_errc::bad_upload_url));
    CHECK(is_permanent_local_failure(delivery_errc::bad_url));
    CHECK(is_permanent_local_failure(delivery_errc::bad_header));
    CHECK_FALSE(is_permanent_local_failure(delivery_errc::body_file_unreadable));
    CHECK_FALSE(is_permanent_local_failure(delivery_errc::reply_file_unwritable));
    CHECK_FALSE(is_permanent_local_failure(delivery_errc::client_stopped));
    CHECK_FALSE(is_permanent_local_failure(std::make_error_code(std::errc::no_space_on_device)));
}

TEST_CASE("delivery: whether an upload URL can be notified is known before the upload", "[delivery]") {
    delivery_settings settings;
    settings.url = "http://backend.internal/ingest";
    CHECK_FALSE(check_deliverable(settings, "/uploads/a{b}.bin?x=|"));
    CHECK_FALSE(check_deliverable(settings, "/uploads/caf\xC3\xA9.bin"));
    // The upload's query is carried into the notification URL, which IIS caps at 2,200.
    CHECK(check_deliverable(settings, "/uploads/a.bin?" + std::string(2200, 'q')) ==
          protocol::notification_errc::url_too_long);
    settings.url = "notify.asp";
    CHECK(check_deliverable(settings, "/uploads/a.bin") == protocol::notification_errc::needs_public_base_url);
    settings.public_base_url = "https://bits.example.org";
    CHECK_FALSE(check_deliverable(settings, "/uploads/a.bin"));
}

TEST_CASE("delivery: attempts against a real back-end: 2xx delivered, 503 transient, 404 fatal, refused unreachable", "[delivery]") {
    bitsd::test::temp_dir dir;
    bitsd::test::backend_process backend(dir);
    const std::string data = (dir / "data").string();
    { std::ofstream(data, std::ios::binary) << "hello"; }
    auto input = sample_input("http://127.0.0.1:" + std::to_string(backend.port()) + "/ingest",
                              protocol::notification_type::value);
    input.data_file = data;
    input.response_file = (dir / "reply").string();
    input.settings.signing_secret = "s3cret";

    backend.control({{"queue", {{{"status", 200}, {"body", "the reply"}},
                                {{"status", 503}},
                                {{"status", 404}}}}});
    auto ok = attempt(input);
    REQUIRE_FALSE(ok.local_error);
    CHECK(ok.verdict.outcome == protocol::delivery_outcome::delivered);
    CHECK(ok.verdict.reply == protocol::reply_source::response_body);
    std::ifstream reply(input.response_file, std::ios::binary);
    std::string reply_text((std::istreambuf_iterator<char>(reply)), std::istreambuf_iterator<char>());
    CHECK(reply_text == "the reply");

    auto transient = attempt(input);
    CHECK(transient.verdict.outcome == protocol::delivery_outcome::failed_transient);
    CHECK(transient.verdict.client_answer.http_status == 503);
    auto fatal = attempt(input);
    CHECK(fatal.verdict.outcome == protocol::delivery_outcome::failed_fatal);
    CHECK(fatal.verdict.client_answer.http_status == 404);

    const auto requests = backend.requests();
    REQUIRE(requests.size() == 3);
    for (const auto& r : requests) {
        CHECK(recorded_header(r, "Idempotency-Key") == "\"0123456789abcdef0123456789abcdef\"");
        CHECK(r.at("body_len") == 5);
    }
    CHECK(recorded_header(requests[0], "BITS-Signature").rfind("t=", 0) == 0);

    input.settings.url = "http://127.0.0.1:1/ingest";
    auto refused = attempt(input);
    REQUIRE_FALSE(refused.local_error);
    CHECK(refused.verdict.outcome == protocol::delivery_outcome::failed_transient);
    CHECK(refused.verdict.client_answer.http_status == 503);
}
