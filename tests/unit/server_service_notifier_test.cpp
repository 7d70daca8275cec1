// The systemd notify client: NOTIFY_SOCKET and WATCHDOG_* parsing, the datagrams it formats, and
// that they reach a real AF_UNIX datagram socket (path and abstract) as sd_notify would send them.
#include "server/service_notifier.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using bitsd::server::service_notifier;
using namespace std::chrono_literals;

// A datagram socket bound like systemd's notify socket; receives what the notifier sends.
class fake_notify_socket {
public:
    explicit fake_notify_socket(bool abstract) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        const std::string name = "bitsd-notify-test-" + std::to_string(::getpid());
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t length = 0;
        if (abstract) {
            std::memcpy(addr.sun_path + 1, name.data(), name.size());
            length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
            env_ = "@" + name;
        } else {
            path_ = "/tmp/" + name + ".sock";
            ::unlink(path_.c_str());
            std::memcpy(addr.sun_path, path_.data(), path_.size());
            length = static_cast<socklen_t>(sizeof(addr));
            env_ = path_;
        }
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) == 0);
        timeval tv{2, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~fake_notify_socket() {
        ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    const std::string& env() const { return env_; }
    std::string receive() {
        char buf[1024];
        const auto n = ::recv(fd_, buf, sizeof(buf), 0);
        return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<std::size_t>(n));
    }

private:
    int fd_ = -1;
    std::string path_;
    std::string env_;
};

// Sets (or unsets, for nullptr) an environment variable for one test and restores it after.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
            had_ = true;
        }
        if (value) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (had_) {
            ::setenv(name_.c_str(), old_.c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }

private:
    std::string name_, old_;
    bool had_ = false;
};

}  // namespace

TEST_CASE("NOTIFY_SOCKET: absolute paths and @abstract names, nothing else", "[server][systemd]") {
    auto path = service_notifier::parse_address("/run/systemd/notify");
    REQUIRE(path);
    CHECK(path->name == "/run/systemd/notify");
    CHECK_FALSE(path->abstract);

    auto abstract = service_notifier::parse_address("@/org/freedesktop/systemd1/notify/123");
    REQUIRE(abstract);
    CHECK(abstract->name == "/org/freedesktop/systemd1/notify/123");
    CHECK(abstract->abstract);

    CHECK_FALSE(service_notifier::parse_address(""));
    CHECK_FALSE(service_notifier::parse_address("@"));
    CHECK_FALSE(service_notifier::parse_address("/"));
    CHECK_FALSE(service_notifier::parse_address("run/notify"));  // relative: not systemd's
    CHECK_FALSE(service_notifier::parse_address("vsock:2:1234"));  // other transports: not ours
    CHECK_FALSE(service_notifier::parse_address("/" + std::string(200, 'x')));  // beyond sun_path
    CHECK(service_notifier::parse_address("/" + std::string(106, 'x')));  // fits with its NUL
    CHECK_FALSE(service_notifier::parse_address("/" + std::string(107, 'x')));
}

TEST_CASE("WATCHDOG_USEC: half the timeout, only for this process", "[server][systemd]") {
    CHECK(service_notifier::parse_watchdog("500000", nullptr, 42) == 250000us);
    CHECK(service_notifier::parse_watchdog("30000000", "42", 42) == 15s);
    CHECK_FALSE(service_notifier::parse_watchdog("500000", "41", 42));  // a parent's watchdog
    CHECK_FALSE(service_notifier::parse_watchdog("500000", "x", 42));
    CHECK_FALSE(service_notifier::parse_watchdog(nullptr, "42", 42));
    CHECK_FALSE(service_notifier::parse_watchdog("0", nullptr, 42));
    CHECK_FALSE(service_notifier::parse_watchdog("", nullptr, 42));
    CHECK_FALSE(service_notifier::parse_watchdog("-5", nullptr, 42));
    CHECK_FALSE(service_notifier::parse_watchdog("10s", nullptr, 42));
}

TEST_CASE("STATUS= is one line", "[server][systemd]") {
    CHECK(service_notifier::format_status("listening on 127.0.0.1:8080") == "STATUS=listening on 127.0.0.1:8080\n");
    CHECK(service_notifier::format_status("a\nb\r\nc") == "STATUS=a b  c\n");
    CHECK(service_notifier::format_status("") == "STATUS=\n");
}

TEST_CASE("without NOTIFY_SOCKET the notifier does nothing", "[server][systemd]") {
    scoped_env socket_env("NOTIFY_SOCKET", nullptr);
    scoped_env usec("WATCHDOG_USEC", "500000");
    auto notifier = service_notifier::from_environment();
    CHECK_FALSE(notifier.enabled());
    CHECK_FALSE(notifier.watchdog_interval());
    notifier.ready("x");  // no socket, no crash
    notifier.watchdog();
}

TEST_CASE("the datagrams reach a path and an abstract notify socket", "[server][systemd]") {
    const bool abstract = GENERATE(false, true);
    fake_notify_socket manager(abstract);
    scoped_env socket_env("NOTIFY_SOCKET", manager.env().c_str());
    scoped_env usec("WATCHDOG_USEC", "2000000");
    scoped_env pid("WATCHDOG_PID", std::to_string(::getpid()).c_str());
    auto notifier = service_notifier::from_environment();
    REQUIRE(notifier.enabled());
    CHECK(notifier.watchdog_interval() == 1s);

    notifier.ready("listening on 127.0.0.1:8080");
    CHECK(manager.receive() == "READY=1\nSTATUS=listening on 127.0.0.1:8080\n");
    notifier.watchdog();
    CHECK(manager.receive() == "WATCHDOG=1\n");
    notifier.status("busy");
    CHECK(manager.receive() == "STATUS=busy\n");
    notifier.stopping("stopping (signal 15)");
    CHECK(manager.receive() == "STOPPING=1\nSTATUS=stopping (signal 15)\n");
}

TEST_CASE("a NOTIFY_SOCKET nobody listens on costs a warning, not the daemon", "[server][systemd]") {
    scoped_env socket_env("NOTIFY_SOCKET", "/nonexistent/bitsd-notify.sock");
    auto notifier = service_notifier::from_environment();
    REQUIRE(notifier.enabled());
    notifier.ready("x");
    notifier.watchdog();
}
