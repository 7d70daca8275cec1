#pragma once
// The systemd notify protocol (sd_notify(3)) without libsystemd: when the service manager sets
// NOTIFY_SOCKET, bitsd sends it READY=1, STATUS=..., STOPPING=1 and WATCHDOG=1 datagrams.
// Without NOTIFY_SOCKET every call does nothing. The protocol is one datagram of
// "KEY=value\n" lines on an AF_UNIX socket, so the whole client fits here.
//
// This header is portable; service_notifier.cpp holds the POSIX code (a Windows counterpart,
// reporting to the Service Control Manager, would be a second .cpp behind the same header).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::server {

// Where NOTIFY_SOCKET points: a filesystem path, or a Linux abstract socket ("@name").
struct notify_address {
    std::string name;       // the path, or the abstract name without its leading '@'
    bool abstract = false;
};

class service_notifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
    static service_notifier from_environment();
    service_notifier() = default;  // disabled: every call does nothing
    service_notifier(service_notifier&& other) noexcept;
    service_notifier& operator=(service_notifier&& other) noexcept;
    service_notifier(const service_notifier&) = delete;
    service_notifier& operator=(const service_notifier&) = delete;
    ~service_notifier();

    bool enabled() const { return fd_ >= 0; }
    // How often to send WATCHDOG=1 (half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
    // advises); empty when the watchdog is off or meant for another process.
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

    // Not synchronised: bitsd calls these from one thread at a time (ready() before the I/O
    // threads start, the watchdog and stopping() on the main I/O context, which one thread runs).
    void ready(std::string_view status);
    void status(std::string_view status);
    void stopping(std::string_view status);
    void watchdog();

    // --- pure helpers, exposed for the unit tests ---
    // NOTIFY_SOCKET's value; empty for an unset, empty, relative or too long value.
    static std::optional<notify_address> parse_address(std::string_view value);
    // WATCHDOG_USEC/WATCHDOG_PID (either may be null) for the process `self`: half the
    // timeout, or empty when unset, malformed, zero, or WATCHDOG_PID names another process.
    static std::optional<std::chrono::microseconds> parse_watchdog(const char* usec, const char* pid, long self);
    // One datagram: each line "KEY=value\n"; a status loses its newlines (one line each).
    static std::string format_status(std::string_view status);

private:
    void send(const std::string& message);

    int fd_ = -1;
    notify_address address_;
    std::optional<std::chrono::microseconds> watchdog_interval_;
    bool send_failed_ = false;  // logged once, not on every watchdog ping
};

}  // namespace bitsd::server
