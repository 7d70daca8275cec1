#pragma once
// What the user sees on stderr. On a terminal: a bar redrawn in place (bytes, percent, rate,
// ETA) at most ten times a second. Otherwise (a log, CI): plain lines, one per 10% plus start
// and finish. --quiet: nothing but errors. Messages (retries, resyncs) clear the bar first so
// they never mix with it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace bitsd::client {

enum class output_mode { bar, lines, quiet };

// "0 B", "1023 B", "1.0 KiB", "12.3 MiB", "1.50 GiB"
std::string format_bytes(std::uint64_t bytes);
// "12.3 MiB/s"
std::string format_rate(double bytes_per_second);
// "0:42", "12:05", "3:02:10"; "--:--" when unknown
std::string format_eta(double seconds);

class progress_reporter {
public:
    using clock = std::chrono::steady_clock;

    progress_reporter(output_mode mode, std::ostream& out, unsigned columns = 80);

    void start(std::string_view what, std::uint64_t total, std::uint64_t resumed_from);
    // Bytes the server holds plus those of the fragment in flight.
    void update(std::uint64_t position);
    // The server acknowledged up to `offset` (lines mode reports 10% steps from this).
    void acknowledged(std::uint64_t offset);
    void note(std::string_view message);   // hidden by --quiet
    void error(std::string_view message);  // always shown
    void finish(std::string_view what);
    // Leaves the terminal on a fresh line (before exiting early).
    void clear();

private:
    void draw(clock::time_point now);
    double rate() const;
    void erase_bar();

    output_mode mode_;
    std::ostream& out_;
    unsigned columns_;
    std::uint64_t total_ = 0;
    std::uint64_t position_ = 0;
    std::uint64_t started_at_ = 0;   // offset when this run began
    clock::time_point start_time_{};
    clock::time_point last_draw_{};
    bool bar_visible_ = false;
    int last_decile_ = -1;
    std::deque<std::pair<clock::time_point, std::uint64_t>> samples_;  // the last few seconds
};

}  // namespace bitsd::client
