#pragma once
// log_format "json": every log line is one JSON object, for log shippers (Loki, Elastic,
// journald's JSON export) that should not parse free text:
//   {"time":"2026-12-01T06:00:00.123Z","level":"info","msg":"listening on 0.0.0.0:8080"}
// Access lines (logger "access") carry their fields instead of "msg":
//   {"time":...,"level":"info","type":"access","client":"127.0.0.1:40000","status":200,...}
// Under journald the time is left out (journald stamps lines) and the line starts with its
// syslog priority "<N>", as in the text format.

#include <spdlog/formatter.h>

#include <memory>

namespace bitsd::server {

class json_log_formatter : public spdlog::formatter {
public:
    explicit json_log_formatter(bool journal = false) : journal_(journal) {}
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;

private:
    bool journal_;
};

}  // namespace bitsd::server
