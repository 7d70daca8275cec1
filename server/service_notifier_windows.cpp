// Windows counterpart of service_notifier.cpp: there is no systemd, so the notifier is always
// disabled and every notification does nothing. A Windows service reports its state to the
// service control manager instead (main/windows_service.cpp).

#include "server/service_notifier.hpp"

namespace bitsd::server {

service_notifier service_notifier::from_environment() { return service_notifier{}; }

service_notifier::service_notifier(service_notifier&& other) noexcept
    : fd_(-1), address_(std::move(other.address_)), watchdog_interval_(other.watchdog_interval_),
      send_failed_(other.send_failed_) {}

service_notifier& service_notifier::operator=(service_notifier&& other) noexcept {
    address_ = std::move(other.address_);
    watchdog_interval_ = other.watchdog_interval_;
    send_failed_ = other.send_failed_;
    return *this;
}

service_notifier::~service_notifier() = default;

void service_notifier::ready(std::string_view) {}
void service_notifier::status(std::string_view) {}
void service_notifier::stopping(std::string_view) {}
void service_notifier::watchdog() {}
void service_notifier::send(const std::string&) {}

// NOTIFY_SOCKET and WATCHDOG_* mean nothing on Windows: never an address, never a watchdog.
std::optional<notify_address> service_notifier::parse_address(std::string_view) { return std::nullopt; }

std::optional<std::chrono::microseconds> service_notifier::parse_watchdog(const char*, const char*, long) {
    return std::nullopt;
}

std::string service_notifier::format_status(std::string_view) { return {}; }

}  // namespace bitsd::server
