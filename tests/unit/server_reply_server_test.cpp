// Serving the back-end's reply (issue 7): which targets are replies, who gets 404, ranges,
// 416, If-Range and the head's fields, on a real filesystem store.

#include "server/reply_server.hpp"
#include "storage/session_store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace bitsd;

namespace {

const std::string id = "{0123ABCD-0000-0000-0000-000000000001}";
const std::string reply_target = "/uploads/dir/BITS-Sessions/Replies/%7B0123ABCD-0000-0000-0000-000000000001%7D/responsefile.bin";

struct fixture {
    test::temp_dir dir;
    std::unique_ptr<storage::session_store> store;
    storage::session_metadata metadata;

    fixture() {
        std::error_code ec;
        store = storage::make_filesystem_store(dir / "data", storage::fsync_policy::none, ec);
        REQUIRE_FALSE(ec);
        metadata.id = id;
        metadata.url_prefix = "/uploads/";
        metadata.target = "/uploads/dir/f.bin";
        metadata.destination = (dir / "f.bin").string();
        metadata.total = 0;
        metadata.owner = "user:alice";
        REQUIRE_FALSE(store->create(metadata));
        metadata.delivery.state = storage::delivery_state::delivered;
        metadata.delivery.finalised_unix = 1700000000;
        metadata.delivery.reply_url = "http://h:1" + reply_target;
        REQUIRE_FALSE(store->update(metadata));
    }
    void write_reply(const std::string& text) {
        storage::session_files files;
        REQUIRE_FALSE(store->local_files(id, files));
        std::ofstream(files.reply, std::ios::binary) << text;
    }
    server::reply_plan get(std::optional<std::string> range = std::nullopt,
                           std::optional<std::string> if_range = std::nullopt, bool head = false,
                           std::string target = reply_target, std::string principal = "user:alice",
                           std::string url_prefix = "/uploads/") {
        server::reply_server replies(*store);
        server::reply_request request;
        request.head = head;
        request.target = std::move(target);
        request.principal = std::move(principal);
        request.url_prefix = std::move(url_prefix);
        request.range = std::move(range);
        request.if_range = std::move(if_range);
        return replies.prepare(request);
    }
};

bool has(const std::string& head, const std::string& line) {
    return head.find(line + "\r\n") != std::string::npos;
}

std::string header_value(const std::string& head, const std::string& name) {
    const auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    const auto start = at + name.size() + 4;
    return head.substr(start, head.find("\r\n", start) - start);
}

}  // namespace

TEST_CASE("reply: only IIS-shaped reply paths are reply targets", "[server][delivery]") {
    CHECK(server::reply_server::is_reply_target(reply_target));
    CHECK(server::reply_server::is_reply_target("/x/BITS-Sessions/Replies/{A}/responsefile.bin?q=1"));
    CHECK_FALSE(server::reply_server::is_reply_target("/uploads/dir/f.bin"));
    CHECK_FALSE(server::reply_server::is_reply_target("/BITS-Sessions/Replies/responsefile.bin"));
    CHECK_FALSE(server::reply_server::is_reply_target("/x/BITS-Sessions/Replies/%ZZ/responsefile.bin"));
}

TEST_CASE("reply: the whole reply, HEAD, one range, 416 and If-Range", "[server][delivery]") {
    fixture f;
    f.write_reply("0123456789");
    auto whole = f.get();
    CHECK(whole.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(has(whole.head, "Content-Length: 10"));
    CHECK(has(whole.head, "Accept-Ranges: bytes"));
    CHECK_FALSE(header_value(whole.head, "Last-Modified").empty());
    const auto etag = header_value(whole.head, "ETag");
    CHECK(etag.front() == '"');
    CHECK(whole.first == 0);
    CHECK(whole.length == 10);
    CHECK_FALSE(whole.file.empty());

    auto head = f.get(std::nullopt, std::nullopt, true);
    CHECK(has(head.head, "Content-Length: 10"));
    CHECK(head.file.empty());  // no body for HEAD

    auto part = f.get(std::string("bytes=2-4"));
    CHECK(part.head.rfind("HTTP/1.1 206 Partial Content\r\n", 0) == 0);
    CHECK(has(part.head, "Content-Range: bytes 2-4/10"));
    CHECK(has(part.head, "Content-Length: 3"));
    CHECK(part.first == 2);
    CHECK(part.length == 3);

    auto beyond = f.get(std::string("bytes=10-"));
    CHECK(beyond.head.rfind("HTTP/1.1 416 ", 0) == 0);
    CHECK(has(beyond.head, "Content-Range: bytes */10"));
    CHECK(has(beyond.head, "Content-Length: 0"));
    CHECK(beyond.file.empty());

    CHECK(f.get(std::string("bytes=2-4"), etag).length == 3);
    CHECK(f.get(std::string("bytes=2-4"), std::string("\"old\"")).length == 10);
}

TEST_CASE("reply: a reply the back-end did not write is empty", "[server][delivery]") {
    fixture f;
    auto plan = f.get();
    CHECK(plan.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(has(plan.head, "Content-Length: 0"));
    CHECK(plan.file.empty());
}

TEST_CASE("reply: 404 unless the session is open, delivered and the URL is the one handed out", "[server][delivery]") {
    fixture f;
    f.write_reply("r");
    const auto not_found = [](const server::reply_plan& plan) { return plan.head.rfind("HTTP/1.1 404 ", 0) == 0; };
    CHECK(not_found(f.get(std::nullopt, std::nullopt, false,
                          "/uploads/other/BITS-Sessions/Replies/%7B0123ABCD-0000-0000-0000-000000000001%7D/responsefile.bin")));
    CHECK(not_found(f.get(std::nullopt, std::nullopt, false,
                          "/uploads/dir/BITS-Sessions/Replies/%7B0123ABCD-0000-0000-0000-000000000002%7D/responsefile.bin")));
    CHECK(not_found(f.get(std::nullopt, std::nullopt, false,
                          "/uploads/dir/BITS-Sessions/Replies/not-a-guid/responsefile.bin")));
    CHECK_FALSE(not_found(f.get()));

    f.metadata.delivery.reply_url = "https://cdn.example/static";  // a static reply: not ours
    REQUIRE_FALSE(f.store->update(f.metadata));
    CHECK(not_found(f.get()));

    f.metadata.delivery.reply_url = "http://h:1" + reply_target;
    f.metadata.delivery.state = storage::delivery_state::finalised;
    REQUIRE_FALSE(f.store->update(f.metadata));
    CHECK(not_found(f.get()));

    f.metadata.delivery.state = storage::delivery_state::delivered;
    f.metadata.state = storage::session_state::closed;  // after Close-Session
    REQUIRE_FALSE(f.store->update(f.metadata));
    CHECK(not_found(f.get()));
}

TEST_CASE("reply: only the session's owner, under the session's prefix, is served", "[server][delivery][auth]") {
    fixture f;
    f.write_reply("secret reply");
    const auto missing = f.get(std::nullopt, std::nullopt, false,
                               "/uploads/dir/BITS-Sessions/Replies/%7B0123ABCD-0000-0000-0000-000000000002%7D/responsefile.bin",
                               "user:bob");
    REQUIRE(missing.head.rfind("HTTP/1.1 404 ", 0) == 0);
    CHECK(f.get().length == 12);
    // Another user, an address, nobody, another prefix: exactly the answer of a missing reply.
    for (const auto& [principal, prefix] : std::vector<std::pair<std::string, std::string>>{
             {"user:bob", "/uploads/"}, {"127.0.0.1", "/uploads/"}, {"", "/uploads/"}, {"", ""},
             {"user:alice", "/other/"}, {"user:alice", ""}}) {
        CAPTURE(principal, prefix);
        const auto plan = f.get(std::nullopt, std::nullopt, false, reply_target, principal, prefix);
        CHECK(plan.head == missing.head);
        CHECK(plan.file.empty());
    }
    // A session stored before owners were recorded is anyone's, as for its BITS packets.
    f.metadata.owner.clear();
    REQUIRE_FALSE(f.store->update(f.metadata));
    CHECK(f.get(std::nullopt, std::nullopt, false, reply_target, "user:bob").length == 12);
}
