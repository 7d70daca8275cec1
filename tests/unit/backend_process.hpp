#pragma once
// tests/e2e/backend_server.py (the real test back-end, Python standard library) as a child
// process of a unit test, steered through its control file; shared by the delivery tests.

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bitsd::test {

inline const std::filesystem::path backend_script =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "e2e" / "backend_server.py";

// backend_server.py as a child process; stopped (SIGTERM, then reaped) at scope exit.
class backend_process {
public:
    explicit backend_process(const temp_dir& dir, std::vector<std::string> extra = {})
        : log_(dir / "requests.jsonl"), control_(dir / "control.json") {
        int out[2];
        REQUIRE(::pipe(out) == 0);
        std::vector<std::string> args{"python3", backend_script.string(), "--log", log_.string(),
                                      "--control", control_.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::close(out[0]);
            ::close(out[1]);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp("python3", argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c = 0;
        while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(out[0]);
        REQUIRE_FALSE(line.empty());
        port_ = static_cast<std::uint16_t>(std::stoi(line));
    }
    ~backend_process() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    backend_process(const backend_process&) = delete;
    backend_process& operator=(const backend_process&) = delete;

    std::uint16_t port() const { return port_; }

    // Replaces the control state (the server re-reads the file when it changes).
    void control(const nlohmann::json& state) {
        const auto next = control_.string() + ".next";
        {
            std::ofstream out(next, std::ios::binary | std::ios::trunc);
            out << state.dump();
        }
        std::filesystem::rename(next, control_);
    }

    std::vector<nlohmann::json> requests() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(log_);
        std::string line;
        while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
        return out;
    }

private:
    std::filesystem::path log_;
    std::filesystem::path control_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace bitsd::test
