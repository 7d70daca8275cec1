// The back-end HTTP client against a real back-end process on 127.0.0.1: tests/e2e/backend_server.py
// (Python standard library), started by each test and steered through its control file.

#include "delivery/delivery_error.hpp"
#include "delivery/http_client.hpp"

#include "backend_process.hpp"
#include "temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace bitsd::delivery;
using bitsd::protocol::backend_transport;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

using bitsd::test::backend_process;

struct outcome {
    std::error_code error;
    http_response response;
    std::chrono::milliseconds elapsed{0};
};

outcome exchange(boost::asio::io_context& context, http_client& client, http_request request) {
    outcome result;
    bool called = false;
    const auto started = std::chrono::steady_clock::now();
    client.post(std::move(request), [&](std::error_code ec, http_response response) {
        result.error = ec;
        result.response = std::move(response);
        called = true;
    });
    context.restart();
    context.run();  // returns once the exchange is over: idle connections hold no operation
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    REQUIRE(called);
    return result;
}

http_request post_to(std::uint16_t port, std::string target = "/ingest") {
    http_request request;
    request.scheme = "http";
    request.host = "127.0.0.1";
    request.port = port;
    request.target = std::move(target);
    request.headers = {{"Idempotency-Key", "key-1"}, {"BITS-Session-Id", "{S}"}};
    return request;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string header(const bitsd::protocol::header_list& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return "<absent>";
}

std::string recorded_header(const nlohmann::json& request, std::string_view name) {
    for (const auto& pair : request.at("headers")) {
        if (iequals(pair.at(0).get<std::string>(), name)) return pair.at(1).get<std::string>();
    }
    return "<absent>";
}

// A port nothing listens on: bound, then closed.
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t size = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    ::close(fd);
    return ntohs(address.sin_port);
}

http_client_options quick_options() {
    http_client_options options;
    options.connect_timeout = std::chrono::seconds(5);
    options.response_timeout = std::chrono::seconds(10);
    options.overall_timeout = std::chrono::seconds(20);
    return options;
}

}  // namespace

TEST_CASE("delivery: http client posts and reads a 200 with its reply written to a file", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default",
                      {{"status", 200},
                       {"body", "the reply, byte for byte"},
                       {"static_response_url", "http://cdn/r"},
                       {"copy_to_destination", true}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port(), "/ingest?account=86433");
    request.reply_file = (dir / "reply.bin").string();
    const auto result = exchange(context, client, request);
    REQUIRE_FALSE(result.error);
    CHECK(result.response.status == 200);
    CHECK(result.response.reply_written);
    CHECK(result.response.body_bytes == 24);
    CHECK(read_file(dir / "reply.bin") == "the reply, byte for byte");
    CHECK(header(result.response.headers, "BITS-Static-Response-URL") == "http://cdn/r");
    CHECK(header(result.response.headers, "BITS-Copy-File-To-Destination") == "true");

    const auto seen = backend.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].at("method") == "POST");
    CHECK(seen[0].at("target") == "/ingest?account=86433");
    CHECK(seen[0].at("body_len") == 0);
    CHECK(recorded_header(seen[0], "Idempotency-Key") == "key-1");
    CHECK(recorded_header(seen[0], "Content-Length") == "0");
    CHECK(recorded_header(seen[0], "Host") == "127.0.0.1:" + std::to_string(backend.port()));
    CHECK(recorded_header(seen[0], "User-Agent") == "bitsd");
}

TEST_CASE("delivery: http client reuses a kept-alive connection for the next request", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    boost::asio::io_context context;
    http_client client(context, quick_options());
    const auto first = exchange(context, client, post_to(backend.port()));
    REQUIRE_FALSE(first.error);
    CHECK_FALSE(first.response.reused_connection);
    CHECK(client.idle_connections() == 1);
    const auto second = exchange(context, client, post_to(backend.port()));
    REQUIRE_FALSE(second.error);
    CHECK(second.response.reused_connection);
    const auto seen = backend.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].at("connection") == seen[1].at("connection"));
}

TEST_CASE("delivery: http client streams the body from a file byte-exact", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    std::string content;
    for (int i = 0; i < 3 * 1024 * 1024 + 7; ++i) content += static_cast<char>((i * 131) % 256);
    write_file(dir / "upload.bin", content);
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port());
    request.headers.emplace_back("Content-Length", "0");  // replaced by the body's length
    request.body_file = (dir / "upload.bin").string();
    request.body_length = content.size();
    const auto result = exchange(context, client, request);
    REQUIRE_FALSE(result.error);
    CHECK(result.response.status == 200);
    const auto seen = backend.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].at("body_len") == content.size());
    // sha256 of the same generated bytes, by Python's hashlib inside the back-end, against ours:
    // the back-end's hex digest must equal the one of the file we sent.
    CHECK(recorded_header(seen[0], "Content-Length") == std::to_string(content.size()));
    CHECK(seen[0].at("body_sha256").get<std::string>().size() == 64);
    std::FILE* pipe = ::popen(("python3 -c \"import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb')"
                               ".read()).hexdigest())\" " + (dir / "upload.bin").string()).c_str(), "r");
    REQUIRE(pipe);
    char hex[65] = {};
    REQUIRE(std::fread(hex, 1, 64, pipe) == 64);
    ::pclose(pipe);
    CHECK(seen[0].at("body_sha256") == std::string(hex));
}

TEST_CASE("delivery: http client refuses a body file of the wrong size and unusable requests", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    write_file(dir / "upload.bin", "12345");
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port());
    request.body_file = (dir / "upload.bin").string();
    request.body_length = 6;
    CHECK(exchange(context, client, request).error == delivery_errc::body_file_unreadable);
    request.body_file = (dir / "missing.bin").string();
    CHECK(exchange(context, client, request).error == delivery_errc::body_file_unreadable);
    auto injected = post_to(backend.port());
    injected.headers.emplace_back("X-Bad", "a\r\nInjected: yes");
    CHECK(exchange(context, client, injected).error == delivery_errc::bad_header);
    auto ftp = post_to(backend.port());
    ftp.scheme = "ftp";
    CHECK(exchange(context, client, ftp).error == delivery_errc::bad_url);
    CHECK(backend.requests().empty());
    CHECK_FALSE(classify_transport(delivery_errc::body_file_unreadable));
}

TEST_CASE("delivery: http client returns a 500 and a redirect as they are", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"queue",
                      {{{"status", 500}, {"body", "error page"}},
                       {{"status", 302}, {"headers", {{"Location", "http://127.0.0.1:1/elsewhere"}}}}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port());
    request.reply_file = (dir / "reply.bin").string();
    const auto failed = exchange(context, client, request);
    REQUIRE_FALSE(failed.error);
    CHECK(failed.response.status == 500);
    CHECK_FALSE(failed.response.reply_written);  // an error page is not a reply
    CHECK_FALSE(fs::exists(dir / "reply.bin"));
    const auto redirected = exchange(context, client, request);
    REQUIRE_FALSE(redirected.error);
    CHECK(redirected.response.status == 302);
    CHECK(backend.requests().size() == 2);  // not followed
}

TEST_CASE("delivery: http client times out on a stalled back-end", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default", {{"stall_s", 5}}}});
    boost::asio::io_context context;
    SECTION("response deadline") {
        auto options = quick_options();
        options.response_timeout = std::chrono::milliseconds(300);
        http_client client(context, options);
        const auto result = exchange(context, client, post_to(backend.port()));
        CHECK(result.error == delivery_errc::timed_out);
        CHECK(result.elapsed < std::chrono::seconds(3));
        CHECK(classify_transport(result.error) == backend_transport::timed_out);
        CHECK(client.idle_connections() == 0);
    }
    SECTION("overall deadline") {
        auto options = quick_options();
        options.overall_timeout = std::chrono::milliseconds(400);
        http_client client(context, options);
        const auto result = exchange(context, client, post_to(backend.port()));
        CHECK(result.error == delivery_errc::timed_out);
        CHECK(result.elapsed < std::chrono::seconds(3));
    }
}

TEST_CASE("delivery: http client reports a refused connection as unreachable", "[delivery]") {
    boost::asio::io_context context;
    http_client client(context, quick_options());
    const auto result = exchange(context, client, post_to(closed_port()));
    REQUIRE(result.error);
    CHECK(classify_transport(result.error) == backend_transport::unreachable);
    auto unknown = post_to(80);
    unknown.host = "no-such-host.invalid";
    const auto unresolved = exchange(context, client, unknown);
    REQUIRE(unresolved.error);
    CHECK(classify_transport(unresolved.error) == backend_transport::unreachable);
}

TEST_CASE("delivery: http client reports a dropped connection", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default", {{"drop", true}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    const auto result = exchange(context, client, post_to(backend.port()));
    REQUIRE(result.error);
    CHECK(classify_transport(result.error) == backend_transport::connection_dropped);
    CHECK(backend.requests().size() == 1);  // a fresh connection is never retried
}

TEST_CASE("delivery: http client reads a close-delimited response and does not keep it", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    const std::string body(100000, 'r');
    backend.control({{"default", {{"close_delimited", true}, {"body", body}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port());
    request.reply_file = (dir / "reply.bin").string();
    const auto result = exchange(context, client, request);
    REQUIRE_FALSE(result.error);
    CHECK(result.response.status == 200);
    CHECK(read_file(dir / "reply.bin") == body);
    CHECK(client.idle_connections() == 0);
    const auto again = exchange(context, client, request);
    REQUIRE_FALSE(again.error);
    CHECK_FALSE(again.response.reused_connection);
}

TEST_CASE("delivery: http client caps the reply it writes", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default", {{"body", std::string(5000, 'x')}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    auto request = post_to(backend.port());
    request.reply_file = (dir / "reply.bin").string();
    request.reply_limit = 4096;
    const auto result = exchange(context, client, request);
    CHECK(result.error == delivery_errc::reply_too_large);
    CHECK(classify_transport(result.error) == backend_transport::malformed_response);
    CHECK_FALSE(std::filesystem::exists(dir / "reply.bin"));  // no partial reply is left behind
    request.reply_limit = 5000;
    CHECK_FALSE(exchange(context, client, request).error);
}

TEST_CASE("delivery: http client does not reuse a connection the back-end closed", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    // Content-Length and no "Connection: close", then the back-end closes: the client pools a
    // connection that is dead by the time it is wanted again.
    backend.control({{"queue", {{{"close_after_answer", true}}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    REQUIRE_FALSE(exchange(context, client, post_to(backend.port())).error);
    ::usleep(200 * 1000);  // let the back-end's close arrive
    const auto second = exchange(context, client, post_to(backend.port()));
    REQUIRE_FALSE(second.error);
    CHECK(second.response.status == 200);
    CHECK_FALSE(second.response.reused_connection);
    const auto seen = backend.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].at("connection") != seen[1].at("connection"));
}

TEST_CASE("delivery: http client retries once on a fresh connection when a reused one fails", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    boost::asio::io_context context;
    http_client client(context, quick_options());
    REQUIRE_FALSE(exchange(context, client, post_to(backend.port())).error);
    REQUIRE(client.idle_connections() == 1);
    // The reused connection dies without an answer (as when the back-end timed it out just as
    // the request went out): one more try, on a new connection, with the same request.
    backend.control({{"queue", {{{"drop", true}}}}});
    const auto second = exchange(context, client, post_to(backend.port()));
    REQUIRE_FALSE(second.error);
    CHECK(second.response.status == 200);
    CHECK_FALSE(second.response.reused_connection);
    const auto seen = backend.requests();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].at("connection") == seen[0].at("connection"));
    CHECK(seen[2].at("connection") != seen[1].at("connection"));
    CHECK(recorded_header(seen[2], "Idempotency-Key") == recorded_header(seen[1], "Idempotency-Key"));
}

TEST_CASE("delivery: a stopped client fails what it is given", "[delivery]") {
    boost::asio::io_context context;
    http_client client(context, quick_options());
    client.stop();
    const auto result = exchange(context, client, post_to(closed_port()));
    CHECK(result.error == delivery_errc::client_stopped);
    CHECK_FALSE(classify_transport(result.error));
}

namespace {

// A self-signed certificate (its own CA) for the given subjectAltName, made with OpenSSL's API so
// the test needs no openssl command.
void make_certificate(const bitsd::test::temp_dir& dir, const std::string& name, const std::string& san) {
    static long serial = 1;
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, void (*)(X509*)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2 * 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("bitsd-test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), subject);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                     {NID_basic_constraints, "critical,CA:TRUE"}}) {
        X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
        REQUIRE(extension);
        X509_add_ext(cert.get(), extension, -1);
        X509_EXTENSION_free(extension);
    }
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    std::FILE* key_file = std::fopen((dir / (name + ".key")).string().c_str(), "w");
    std::FILE* cert_file = std::fopen((dir / (name + ".pem")).string().c_str(), "w");
    REQUIRE(key_file);
    REQUIRE(cert_file);
    CHECK(PEM_write_PrivateKey(key_file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    CHECK(PEM_write_X509(cert_file, cert.get()) == 1);
    std::fclose(key_file);
    std::fclose(cert_file);
}

}  // namespace

TEST_CASE("delivery: https is verified against the trusted CAs and the host name", "[delivery]") {
    bitsd::test::temp_dir dir;
    make_certificate(dir, "good", "IP:127.0.0.1");
    make_certificate(dir, "other", "DNS:other.example");
    backend_process good(dir, {"--tls-cert", (dir / "good.pem").string(), "--tls-key",
                               (dir / "good.key").string()});
    auto request = post_to(good.port());
    request.scheme = "https";
    boost::asio::io_context context;

    SECTION("a certificate no trusted CA signed is refused") {
        http_client client(context, quick_options());  // the system store only
        const auto result = exchange(context, client, request);
        REQUIRE(result.error);
        CHECK(classify_transport(result.error) == backend_transport::unreachable);
        CHECK(good.requests().empty());
    }
    SECTION("trusted through extra_ca_file, over one kept-alive TLS connection") {
        auto options = quick_options();
        options.extra_ca_file = (dir / "good.pem").string();
        http_client client(context, options);
        const auto first = exchange(context, client, request);
        REQUIRE_FALSE(first.error);
        CHECK(first.response.status == 200);
        const auto second = exchange(context, client, request);
        REQUIRE_FALSE(second.error);
        CHECK(second.response.reused_connection);
        const auto seen = good.requests();
        REQUIRE(seen.size() == 2);
        CHECK(seen[0].at("connection") == seen[1].at("connection"));
    }
    SECTION("a trusted certificate for another name is refused") {
        backend_process other(dir, {"--tls-cert", (dir / "other.pem").string(), "--tls-key",
                                    (dir / "other.key").string()});
        auto options = quick_options();
        options.extra_ca_file = (dir / "other.pem").string();
        http_client client(context, options);
        auto to_other = request;
        to_other.port = other.port();
        const auto result = exchange(context, client, to_other);
        REQUIRE(result.error);
        CHECK(classify_transport(result.error) == backend_transport::unreachable);
        CHECK(other.requests().empty());
    }
    SECTION("an extra CA file that cannot be read stops start-up") {
        auto options = quick_options();
        options.extra_ca_file = (dir / "missing.pem").string();
        CHECK_THROWS_AS(http_client(context, options), std::system_error);
    }
}

TEST_CASE("delivery: a stalled back-end holds up nothing else on the io_context", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"queue", {{{"stall_s", 4}}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    std::vector<std::string> finished;
    std::error_code stalled_error;
    client.post(post_to(backend.port(), "/stalled"), [&](std::error_code ec, http_response) {
        stalled_error = ec;
        finished.push_back("stalled");
    });
    // Wait (bounded) until the back-end holds the first request, then send another.
    for (int i = 0; i < 100 && backend.requests().empty(); ++i) {
        context.run_for(std::chrono::milliseconds(50));
    }
    REQUIRE(backend.requests().size() == 1);
    const auto started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration quick_took{};
    client.post(post_to(backend.port(), "/quick"), [&](std::error_code ec, http_response response) {
        CHECK_FALSE(ec);
        CHECK(response.status == 200);
        quick_took = std::chrono::steady_clock::now() - started;
        finished.push_back("quick");
    });
    context.restart();
    context.run();
    CHECK(finished == std::vector<std::string>{"quick", "stalled"});
    CHECK(quick_took < std::chrono::seconds(3));  // before the stalled answer (4 s)
    CHECK_FALSE(stalled_error);
}

TEST_CASE("delivery: stopping the client ends the exchanges in flight", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default", {{"stall_s", 5}}}});
    boost::asio::io_context context;
    http_client client(context, quick_options());
    std::error_code result;
    bool called = false;
    client.post(post_to(backend.port()), [&](std::error_code ec, http_response) {
        result = ec;
        called = true;
    });
    for (int i = 0; i < 100 && backend.requests().empty(); ++i) {
        context.run_for(std::chrono::milliseconds(50));
    }
    REQUIRE(backend.requests().size() == 1);
    const auto started = std::chrono::steady_clock::now();
    client.stop();
    context.restart();
    context.run();
    CHECK(called);
    CHECK(result == delivery_errc::client_stopped);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("delivery: a by-value notification reaches the back-end with its exact headers", "[delivery]") {
    bitsd::test::temp_dir dir;
    backend_process backend(dir);
    backend.control({{"default", {{"body", "reply for the client"}}}});
    const std::string content = "the uploaded file\n";
    write_file(dir / "upload.bin", content);

    bitsd::protocol::notification_input input;
    input.upload = {"http", "bits.example:8080", "/uploads/a.bin?account=7"};
    const auto url = "http://127.0.0.1:" + std::to_string(backend.port()) + "/ingest";
    input.notification_url = url;
    input.type = bitsd::protocol::notification_type::value;
    input.session_id = "{S}";
    input.size = content.size();
    input.idempotency_key = "key-7";
    input.sha256_base64 = "AA==";
    bitsd::protocol::notification_request notification;
    REQUIRE_FALSE(bitsd::protocol::build_notification(input, notification));

    auto request = http_request::post_of(notification);
    request.headers.emplace_back("BITS-Signature", "t=1,v1=00");
    request.body_file = (dir / "upload.bin").string();
    request.reply_file = (dir / "reply.bin").string();
    boost::asio::io_context context;
    http_client client(context, quick_options());
    const auto result = exchange(context, client, request);
    REQUIRE_FALSE(result.error);
    CHECK(read_file(dir / "reply.bin") == "reply for the client");

    const auto seen = backend.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].at("target") == "/ingest?account=7");
    CHECK(seen[0].at("body_len") == content.size());
    const auto port = std::to_string(backend.port());
    std::vector<std::pair<std::string, std::string>> want_pairs{
        {"BITS-Original-Request-URL", "http://bits.example:8080/uploads/a.bin?account=7"},
        {"BITS-Session-Id", "{S}"},
        {"BITS-Upload-Size", std::to_string(content.size())},
        {"Idempotency-Key", "\"key-7\""},
        {"Repr-Digest", "sha-256=:AA==:"},
        {"BITS-Signature", "t=1,v1=00"},
        {"Content-Length", std::to_string(content.size())},
        {"Host", "127.0.0.1:" + port},
        {"User-Agent", "bitsd"},
    };
    // The notification's headers; Content-Length set from the body; Host and User-Agent added
    // by the client; nothing else.
    std::vector<std::pair<std::string, std::string>> got_pairs;
    for (const auto& pair : seen[0].at("headers")) {
        got_pairs.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    std::sort(got_pairs.begin(), got_pairs.end());
    std::sort(want_pairs.begin(), want_pairs.end());
    CHECK(got_pairs == want_pairs);
    // The BITS headers keep the order the rules gave them.
    std::vector<std::string> bits_order;
    for (const auto& pair : seen[0].at("headers")) {
        const auto name = pair.at(0).get<std::string>();
        if (name.rfind("BITS-", 0) == 0 || name == "Idempotency-Key" || name == "Repr-Digest") {
            bits_order.push_back(name);
        }
    }
    CHECK(bits_order == std::vector<std::string>{"BITS-Original-Request-URL", "BITS-Session-Id",
                                                 "BITS-Upload-Size", "Idempotency-Key", "Repr-Digest",
                                                 "BITS-Signature"});
}
