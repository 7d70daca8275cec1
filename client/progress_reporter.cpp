#include "client/progress_reporter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bitsd::client {
namespace {

// Rate is measured over this window: long enough to smooth fragment-sized jumps, short enough
// to follow a change of link speed.
constexpr std::chrono::seconds rate_window{5};
constexpr std::chrono::milliseconds redraw_interval{100};

std::string printf_string(const char* format, double value, const char* unit) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value, unit);
    return buffer;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " B";
    static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes) / 1024.0;
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(units)) {
        value /= 1024.0;
        ++unit;
    }
    return printf_string(unit >= 1 && value < 10.0 ? "%.2f %s" : "%.1f %s", value, units[unit]);
}

std::string format_rate(double bytes_per_second) {
    if (!(bytes_per_second > 0)) return "0 B/s";
    return format_bytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s";
}

std::string format_eta(double seconds) {
    if (!(seconds >= 0) || seconds > 359999.0 * 24) return "--:--";
    const auto total = static_cast<std::uint64_t>(std::llround(seconds));
    const auto h = total / 3600;
    const auto m = (total / 60) % 60;
    const auto s = total % 60;
    char buffer[32];
    if (h > 0) {
        std::snprintf(buffer, sizeof buffer, "%llu:%02llu:%02llu",
                      static_cast<unsigned long long>(h), static_cast<unsigned long long>(m),
                      static_cast<unsigned long long>(s));
    } else {
        std::snprintf(buffer, sizeof buffer, "%llu:%02llu", static_cast<unsigned long long>(m),
                      static_cast<unsigned long long>(s));
    }
    return buffer;
}

progress_reporter::progress_reporter(output_mode mode, std::ostream& out, unsigned columns)
    : mode_(mode), out_(out), columns_(std::max(columns, 20u)) {}

void progress_reporter::start(std::string_view what, std::uint64_t total,
                              std::uint64_t resumed_from) {
    total_ = total;
    position_ = resumed_from;
    started_at_ = resumed_from;
    start_time_ = clock::now();
    samples_.clear();
    samples_.emplace_back(start_time_, resumed_from);
    last_decile_ = total == 0 ? 0 : static_cast<int>(resumed_from * 10 / total);
    if (mode_ == output_mode::quiet) return;
    std::string line = "bits-upload: " + std::string(what) + " (" + format_bytes(total) + ")";
    if (resumed_from > 0 && total > 0) {
        line += ", resuming at " + format_bytes(resumed_from) + " (" +
                std::to_string(resumed_from * 100 / total) + "%)";
    }
    out_ << line << "\n" << std::flush;
}

double progress_reporter::rate() const {
    if (samples_.size() < 2) return 0;
    const auto& [t0, p0] = samples_.front();
    const auto& [t1, p1] = samples_.back();
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    if (seconds <= 0 || p1 < p0) return 0;
    return static_cast<double>(p1 - p0) / seconds;
}

void progress_reporter::update(std::uint64_t position) {
    const auto now = clock::now();
    if (position < position_) samples_.clear();  // a resync backwards: old samples mislead
    position_ = std::min(position, total_);
    samples_.emplace_back(now, position_);
    while (samples_.size() > 2 && now - samples_.front().first > rate_window) samples_.pop_front();
    if (mode_ == output_mode::bar && now - last_draw_ >= redraw_interval) draw(now);
}

void progress_reporter::acknowledged(std::uint64_t offset) {
    update(offset);
    if (mode_ != output_mode::lines || total_ == 0) return;
    const int decile = static_cast<int>(std::min(offset, total_) * 10 / total_);
    if (decile > last_decile_ && decile < 10) {
        out_ << "bits-upload: " << decile * 10 << "% (" << offset << " of " << total_
             << " bytes), " << format_rate(rate()) << "\n"
             << std::flush;
    }
    last_decile_ = std::max(last_decile_, decile);
}

void progress_reporter::draw(clock::time_point now) {
    last_draw_ = now;
    const double r = rate();
    const unsigned percent = total_ == 0 ? 100 : static_cast<unsigned>(position_ * 100 / total_);
    const std::string left = format_bytes(position_) + " / " + format_bytes(total_);
    const std::string right = std::to_string(percent) + "%  " + format_rate(r) + "  ETA " +
                              format_eta(r > 0 ? static_cast<double>(total_ - position_) / r : -1);
    std::string line = " " + left + " ";
    const std::size_t fixed = line.size() + right.size() + 4;
    if (columns_ > fixed + 10) {
        const std::size_t width = std::min<std::size_t>(columns_ - fixed - 1, 50);
        const std::size_t filled =
            total_ == 0 ? width : static_cast<std::size_t>(position_ * width / total_);
        line += "[" + std::string(filled, '=') + std::string(width - filled, ' ') + "] ";
    }
    line += right;
    if (line.size() + 1 > columns_) line.resize(columns_ - 1);
    out_ << "\r" << line << "\x1b[K" << std::flush;
    bar_visible_ = true;
}

void progress_reporter::erase_bar() {
    if (bar_visible_) {
        out_ << "\r\x1b[K";
        bar_visible_ = false;
    }
}

void progress_reporter::note(std::string_view message) {
    if (mode_ == output_mode::quiet) return;
    erase_bar();
    out_ << "bits-upload: " << message << "\n" << std::flush;
}

void progress_reporter::error(std::string_view message) {
    erase_bar();
    out_ << "bits-upload: " << message << "\n" << std::flush;
}

void progress_reporter::finish(std::string_view what) {
    if (mode_ == output_mode::quiet) return;
    erase_bar();
    const double seconds = std::chrono::duration<double>(clock::now() - start_time_).count();
    const auto sent = total_ - std::min(started_at_, total_);
    std::string line = "bits-upload: " + std::string(what) + " (" + std::to_string(total_) +
                       " bytes) in " + printf_string("%.1f%s", seconds, " s");
    if (seconds > 0 && sent > 0) line += ", " + format_rate(static_cast<double>(sent) / seconds);
    out_ << line << "\n" << std::flush;
}

void progress_reporter::clear() { erase_bar(); }

}  // namespace bitsd::client
