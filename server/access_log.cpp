#include "server/access_log.hpp"

#include "server/log_level.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

namespace bitsd::server {

namespace {

std::shared_ptr<spdlog::logger> access_logger;
spdlog::level::level_enum access_level = spdlog::level::info;
config::log_format access_format = config::log_format::text;

bool is_visible(unsigned char c) { return c > 0x20 && c < 0x7f; }

// A client-controlled value in the text format: quoted, with quote, backslash and every byte
// that is not visible ASCII (space excepted) as \xHH, so the line stays one parseable line.
void append_quoted(std::string& out, std::string_view text) {
    if (text.empty()) {
        out.push_back('-');
        return;
    }
    out.push_back('"');
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\' || (!is_visible(c) && c != ' ')) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            out.append(hex, 4);
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
}

void append_milliseconds(std::string& out, std::chrono::steady_clock::duration duration) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
    char text[32];
    const int n = std::snprintf(text, sizeof text, "%.3f", static_cast<double>(us) / 1000.0);
    out.append(text, static_cast<std::size_t>(n));
}

void append_json_field(std::string& out, const char* name, std::string_view value) {
    out.append(",\"").append(name).append("\":");
    if (value.empty()) {
        out.append("null");
        return;
    }
    out.push_back('"');
    append_json_escaped(out, value);
    out.push_back('"');
}

// Length of the valid UTF-8 sequence at text[i], or 0 (RFC 3629: no overlongs, no surrogates).
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + n > text.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    }
    return n;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_length(text, i);
            if (n == 0) {
                out.append("\xEF\xBF\xBD");  // U+FFFD: the line must stay valid JSON
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char hex[7];
                std::snprintf(hex, sizeof hex, "\\u%04X", c);
                out.append(hex, 6);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
        ++i;
    }
}

void access_log::configure(config::log_format format, config::log_level level) {
    access_format = format;
    access_level = to_spdlog(level);
    const auto main_logger = spdlog::default_logger();
    // The daemon's sinks (and so their formatter, e.g. the journal's), its level threshold.
    access_logger = std::make_shared<spdlog::logger>("access", main_logger->sinks().begin(),
                                                     main_logger->sinks().end());
    access_logger->set_level(main_logger->level());
    access_logger->flush_on(main_logger->flush_level());
    // Registered so spdlog::set_level (a reload of log_level) reaches it too; not through
    // initialize_logger, which would replace the sinks' formatter with the global one.
    spdlog::drop("access");
    spdlog::register_logger(access_logger);
}

bool access_log::enabled() noexcept {
    return access_level != spdlog::level::off && access_logger && access_logger->should_log(access_level);
}

void access_log::write(const access_record& record) {
    if (!enabled()) return;
    std::string line;
    line.reserve(256);
    if (access_format == config::log_format::json) {
        format_json(line, record);
    } else {
        format_text(line, record);
    }
    access_logger->log(access_level, "{}", line);
}

void access_log::format_text(std::string& out, const access_record& r) {
    out.append("access client=").append(r.client.empty() ? std::string_view("-") : r.client);
    out.append(" method=");
    append_quoted(out, r.method);
    out.append(" path=");
    append_quoted(out, r.target);
    out.append(" packet=");
    append_quoted(out, r.packet_type);
    out.append(" session=");
    append_quoted(out, r.session_id);
    out.append(" range=");
    append_quoted(out, r.range);
    out.append(" status=").append(std::to_string(r.status));
    out.append(" error=");
    append_quoted(out, r.error);
    out.append(" bytes=").append(std::to_string(r.bytes));
    out.append(" duration_ms=");
    append_milliseconds(out, r.duration);
}

void access_log::format_json(std::string& out, const access_record& r) {
    // Fields only (the formatter adds time and level around them): "type" first, so the
    // payload of an access line never starts like a plain message.
    out.append("\"type\":\"access\"");
    append_json_field(out, "client", r.client);
    append_json_field(out, "method", r.method);
    append_json_field(out, "path", r.target);
    append_json_field(out, "packet_type", r.packet_type);
    append_json_field(out, "session_id", r.session_id);
    append_json_field(out, "range", r.range);
    out.append(",\"status\":").append(std::to_string(r.status));
    append_json_field(out, "error", r.error);
    out.append(",\"bytes\":").append(std::to_string(r.bytes));
    out.append(",\"duration_ms\":");
    append_milliseconds(out, r.duration);
}

}  // namespace bitsd::server
