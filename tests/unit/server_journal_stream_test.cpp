// Logging under journald: JOURNAL_STREAM parsing, the device:inode match against stderr, and the
// "<N>" syslog priority prefix of the journal pattern.
#include "server/journal_stream.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

using namespace bitsd::server;

TEST_CASE("JOURNAL_STREAM is device:inode in decimal", "[server][systemd]") {
    const auto id = parse_journal_stream("64769:1234567");
    REQUIRE(id);
    CHECK(id->device == 64769);
    CHECK(id->inode == 1234567);
    CHECK_FALSE(parse_journal_stream(""));
    CHECK_FALSE(parse_journal_stream("64769"));
    CHECK_FALSE(parse_journal_stream(":12"));
    CHECK_FALSE(parse_journal_stream("12:"));
    CHECK_FALSE(parse_journal_stream("12:34x"));
    CHECK_FALSE(parse_journal_stream("-1:34"));
}

TEST_CASE("stderr is the journal only when JOURNAL_STREAM names stderr's file", "[server][systemd]") {
    struct stat st {};
    REQUIRE(::fstat(STDERR_FILENO, &st) == 0);
    const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    const char* old = std::getenv("JOURNAL_STREAM");
    const std::string saved = old ? old : "";

    ::unsetenv("JOURNAL_STREAM");
    CHECK_FALSE(stderr_is_journal());
    ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
    CHECK(stderr_is_journal());
    ::setenv("JOURNAL_STREAM", other.c_str(), 1);  // inherited, stderr redirected elsewhere
    CHECK_FALSE(stderr_is_journal());
    ::setenv("JOURNAL_STREAM", "garbage", 1);
    CHECK_FALSE(stderr_is_journal());

    if (old) ::setenv("JOURNAL_STREAM", saved.c_str(), 1); else ::unsetenv("JOURNAL_STREAM");
}

TEST_CASE("journal lines start with their syslog priority and carry no timestamp", "[server][systemd]") {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::logger logger("journal-test", sink);
    logger.set_level(spdlog::level::trace);
    use_journal_pattern(logger);

    logger.critical("c");
    logger.error("e");
    logger.warn("w");
    logger.info("i");
    logger.debug("d");
    logger.trace("t");
    CHECK(out.str() ==
          "<2>[critical] c\n<3>[error] e\n<4>[warning] w\n<6>[info] i\n<7>[debug] d\n<7>[trace] t\n");
}
