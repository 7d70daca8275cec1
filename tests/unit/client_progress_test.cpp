// What bits-upload prints: byte, rate and ETA formatting, plain lines when not on a terminal,
// nothing but errors with --quiet.

#include "client/progress_reporter.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace bitsd::client;

TEST_CASE("client progress: formatting", "[client][progress]") {
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1024) == "1.0 KiB");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(104857600) == "100.0 MiB");
    CHECK(format_bytes(5 * 1024 * 1024) == "5.00 MiB");
    CHECK(format_bytes(1610612736) == "1.50 GiB");
    CHECK(format_rate(0) == "0 B/s");
    CHECK(format_rate(12.9 * 1024 * 1024) == "12.9 MiB/s");
    CHECK(format_eta(-1) == "--:--");
    CHECK(format_eta(0) == "0:00");
    CHECK(format_eta(42) == "0:42");
    CHECK(format_eta(725) == "12:05");
    CHECK(format_eta(10930) == "3:02:10");
}

TEST_CASE("client progress: plain lines, one per 10%", "[client][progress]") {
    std::ostringstream out;
    progress_reporter p(output_mode::lines, out);
    p.start("uploading f to http://h/f", 1000, 0);
    for (std::uint64_t offset = 50; offset <= 1000; offset += 50) {
        p.update(offset - 25);  // in-flight positions print nothing in lines mode
        p.acknowledged(offset);
    }
    p.note("a retry");
    p.finish("uploaded f");
    const auto text = out.str();
    CHECK(text.find('\r') == std::string::npos);
    CHECK_THAT(text, Catch::StartsWith("bits-upload: uploading f to http://h/f (1000 B)\n"));
    for (int decile = 1; decile <= 9; ++decile) {
        CHECK_THAT(text, Catch::Contains("bits-upload: " + std::to_string(decile * 10) + "% (" +
                                         std::to_string(decile * 100) + " of 1000 bytes)"));
    }
    CHECK_THAT(text, !Catch::Contains("100% ("));
    CHECK_THAT(text, Catch::Contains("bits-upload: a retry\n"));
    CHECK_THAT(text, Catch::Contains("bits-upload: uploaded f (1000 bytes) in "));
}

TEST_CASE("client progress: a resumed upload says where it resumes", "[client][progress]") {
    std::ostringstream out;
    progress_reporter p(output_mode::lines, out);
    p.start("uploading f", 1000, 450);
    p.acknowledged(500);
    p.acknowledged(600);
    const auto text = out.str();
    CHECK_THAT(text, Catch::Contains("resuming at 450 B (45%)"));
    CHECK_THAT(text, Catch::Contains("50% (500 of 1000 bytes)"));
    CHECK_THAT(text, !Catch::Contains("40%"));
}

TEST_CASE("client progress: --quiet prints only errors", "[client][progress]") {
    std::ostringstream out;
    progress_reporter p(output_mode::quiet, out);
    p.start("uploading f", 1000, 0);
    p.acknowledged(500);
    p.note("retrying");
    p.finish("uploaded f");
    CHECK(out.str().empty());
    p.error("the server refused");
    CHECK(out.str() == "bits-upload: the server refused\n");
}

TEST_CASE("client progress: the bar redraws in place and is cleared for messages",
          "[client][progress]") {
    std::ostringstream out;
    progress_reporter p(output_mode::bar, out, 100);
    p.start("uploading f", 2048, 0);
    p.update(1024);
    const auto bar = out.str();
    CHECK_THAT(bar, Catch::Contains("\r 1.0 KiB / 2.0 KiB ["));
    CHECK_THAT(bar, Catch::Contains("50%"));
    CHECK_THAT(bar, Catch::Contains("ETA"));
    p.note("hello");
    CHECK_THAT(out.str(), Catch::EndsWith("\r\x1b[Kbits-upload: hello\n"));
}
