// POSIX implementation of service_notifier (see the header for the protocol).

#include "server/service_notifier.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace bitsd::server {

namespace {

template <typename T>
std::optional<T> parse_number(const char* text) {
    if (text == nullptr || *text == '\0') return std::nullopt;
    T value{};
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, value);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

}  // namespace

std::optional<notify_address> service_notifier::parse_address(std::string_view value) {
    // sun_path holds the path and its terminating NUL; an abstract name uses the leading byte.
    constexpr std::size_t capacity = sizeof(sockaddr_un{}.sun_path);
    if (value.size() < 2) return std::nullopt;
    if (value.front() == '@') {
        if (value.size() > capacity) return std::nullopt;
        return notify_address{std::string(value.substr(1)), true};
    }
    if (value.front() != '/' || value.size() >= capacity) return std::nullopt;
    return notify_address{std::string(value), false};
}

std::optional<std::chrono::microseconds> service_notifier::parse_watchdog(const char* usec, const char* pid,
                                                                          long self) {
    const auto timeout = parse_number<unsigned long long>(usec);
    if (!timeout || *timeout == 0) return std::nullopt;
    if (pid != nullptr) {
        // The watchdog is for one process: a WATCHDOG_PID inherited from a parent is not ours.
        const auto owner = parse_number<long>(pid);
        if (!owner || *owner != self) return std::nullopt;
    }
    return std::chrono::microseconds(static_cast<long long>(*timeout / 2));
}

std::string service_notifier::format_status(std::string_view status) {
    std::string line = "STATUS=";
    for (const char c : status) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
    line.push_back('\n');
    return line;
}

service_notifier service_notifier::from_environment() {
    service_notifier notifier;
    const char* socket_env = std::getenv("NOTIFY_SOCKET");
    if (socket_env == nullptr) return notifier;
    const auto address = parse_address(socket_env);
    if (!address) {
        spdlog::warn("NOTIFY_SOCKET=\"{}\" is not an absolute path or @abstract name: not notifying systemd",
                     socket_env);
        return notifier;
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        spdlog::warn("NOTIFY_SOCKET: cannot create a socket: {}", std::strerror(errno));
        return notifier;
    }
    notifier.fd_ = fd;
    notifier.address_ = *address;
    notifier.watchdog_interval_ =
        parse_watchdog(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), static_cast<long>(::getpid()));
    return notifier;
}

service_notifier::service_notifier(service_notifier&& other) noexcept
    : fd_(other.fd_), address_(std::move(other.address_)), watchdog_interval_(other.watchdog_interval_),
      send_failed_(other.send_failed_) {
    other.fd_ = -1;
}

service_notifier& service_notifier::operator=(service_notifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        address_ = std::move(other.address_);
        watchdog_interval_ = other.watchdog_interval_;
        send_failed_ = other.send_failed_;
        other.fd_ = -1;
    }
    return *this;
}

service_notifier::~service_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

void service_notifier::ready(std::string_view status) { send("READY=1\n" + format_status(status)); }

void service_notifier::status(std::string_view status) { send(format_status(status)); }

void service_notifier::stopping(std::string_view status) { send("STOPPING=1\n" + format_status(status)); }

void service_notifier::watchdog() { send("WATCHDOG=1\n"); }

void service_notifier::send(const std::string& message) {
    if (fd_ < 0) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (address_.abstract) {
        // Abstract names start with a NUL byte and are not NUL-terminated: the length counts.
        std::memcpy(addr.sun_path + 1, address_.name.data(), address_.name.size());
        length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + address_.name.size());
    } else {
        std::memcpy(addr.sun_path, address_.name.data(), address_.name.size());
        length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.name.size() + 1);
    }
    // Never blocks: a watchdog ping comes from an I/O thread, and a lost notification is
    // better than a stalled server (systemd's own sd_notify does not block either).
    const auto sent = ::sendto(fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&addr), length);
    if (sent < 0 && !send_failed_) {
        send_failed_ = true;
        spdlog::warn("NOTIFY_SOCKET: cannot notify the service manager: {}", std::strerror(errno));
    }
}

}  // namespace bitsd::server
