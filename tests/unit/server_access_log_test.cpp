// Access lines: every field in both formats, client-controlled values escaped so a line stays
// one line (and valid JSON), and the JSON formatter around ordinary messages.

#include "server/access_log.hpp"
#include "server/json_log_formatter.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

using namespace bitsd::server;
using nlohmann::json;

namespace {

access_record sample_record() {
    access_record r;
    r.client = "127.0.0.1:40000";
    r.method = "BITS_POST";
    r.target = "/uploads/a.bin";
    r.packet_type = "Fragment";
    r.session_id = "{11111111-2222-3333-4444-555555555555}";
    r.range = "bytes 0-9/20";
    r.status = 200;
    r.bytes = 10;
    r.duration = std::chrono::microseconds(1500);
    return r;
}

}  // namespace

TEST_CASE("a text access line carries every field", "[server][access_log]") {
    std::string line;
    access_log::format_text(line, sample_record());
    CHECK(line == "access client=127.0.0.1:40000 method=\"BITS_POST\" path=\"/uploads/a.bin\" "
                  "packet=\"Fragment\" session=\"{11111111-2222-3333-4444-555555555555}\" "
                  "range=\"bytes 0-9/20\" status=200 error=- bytes=10 duration_ms=1.500");
}

TEST_CASE("a text access line escapes what the client controls", "[server][access_log]") {
    auto r = sample_record();
    r.session_id = "a\"b\\c\nd\x01\xff";
    r.range = {};
    std::string line;
    access_log::format_text(line, r);
    CHECK(line.find("session=\"a\\x22b\\x5Cc\\x0Ad\\x01\\xFF\"") != std::string::npos);
    CHECK(line.find("range=-") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("a JSON access line is an object's fields, escaped", "[server][access_log]") {
    auto r = sample_record();
    r.target = "/uploads/\xc3\xa9t\xe9\"\n";  // valid é, then a lone 0xE9
    r.status = 416;
    r.error = "0x80070057";
    std::string fields;
    access_log::format_json(fields, r);
    const auto doc = json::parse("{" + fields + "}");
    CHECK(doc["type"] == "access");
    CHECK(doc["client"] == "127.0.0.1:40000");
    CHECK(doc["method"] == "BITS_POST");
    CHECK(doc["path"] == "/uploads/\xc3\xa9t\xEF\xBF\xBD\"\n");
    CHECK(doc["packet_type"] == "Fragment");
    CHECK(doc["session_id"] == "{11111111-2222-3333-4444-555555555555}");
    CHECK(doc["range"] == "bytes 0-9/20");
    CHECK(doc["status"] == 416);
    CHECK(doc["error"] == "0x80070057");
    CHECK(doc["bytes"] == 10);
    CHECK(doc["duration_ms"] == Approx(1.5));
    r.error = {};
    fields.clear();
    access_log::format_json(fields, r);
    CHECK(json::parse("{" + fields + "}")["error"].is_null());
}

TEST_CASE("append_json_escaped keeps valid UTF-8 and escapes controls", "[server][access_log]") {
    std::string out;
    append_json_escaped(out, std::string("a\x7f\t\xf0\x9f\x98\x80\xed\xa0\x80z", 11));
    CHECK(out == "a\\u007F\\t\xf0\x9f\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz");
}

TEST_CASE("the JSON log formatter writes one object per line", "[server][access_log]") {
    json_log_formatter formatter;
    spdlog::memory_buf_t out;
    const spdlog::details::log_msg message("bitsd", spdlog::level::warn, "disk \"full\"\n at /x");
    formatter.format(message, out);
    const std::string line(out.data(), out.size());
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    const auto doc = json::parse(line);
    CHECK(doc["level"] == "warn");
    CHECK(doc["msg"] == "disk \"full\"\n at /x");
    CHECK(doc["time"].get<std::string>().size() == 24);  // 2026-12-01T06:00:00.123Z

    spdlog::memory_buf_t access;
    const spdlog::details::log_msg access_message("access", spdlog::level::info, "\"type\":\"access\",\"status\":200");
    formatter.format(access_message, access);
    const auto access_doc = json::parse(std::string(access.data(), access.size()));
    CHECK(access_doc["type"] == "access");
    CHECK(access_doc["status"] == 200);
    CHECK(access_doc["level"] == "info");

    json_log_formatter journal(true);
    spdlog::memory_buf_t journal_line;
    journal.format(message, journal_line);
    const std::string journal_text(journal_line.data(), journal_line.size());
    CHECK(journal_text.rfind("<4>{", 0) == 0);
    CHECK(json::parse(journal_text.substr(3)).count("time") == 0);
}
