// `bitsd passwd [--method yescrypt|sha512] USER`: reads a password (twice, without echo, from a
// terminal; else one line from stdin) and prints "USER:HASH" for a Basic credentials_file. The
// hash comes from libxcrypt with a fresh random salt; the password itself is never stored.

#include "main/passwd_command.hpp"

#include <crypt.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace bitsd::main {

namespace {

constexpr std::size_t max_password_length = 1024;

int usage() {
    std::cerr << "usage: bitsd passwd [--method yescrypt|sha512] USER\n"
                 "  Reads the password (twice from a terminal, else one line from stdin) and prints\n"
                 "  USER:HASH for an uploads[].auth.credentials_file (Basic authentication).\n";
    return 2;
}

bool read_password(const char* prompt, std::string& out) {
    const bool tty = isatty(STDIN_FILENO) != 0;
    termios saved{};
    if (tty) {
        std::cerr << prompt << std::flush;
        tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    const bool ok = static_cast<bool>(std::getline(std::cin, out));
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::cerr << "\n";
    }
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return ok;
}

}  // namespace

int run_passwd(int argc, char** argv) {
    const char* prefix = "$y$";  // yescrypt, Debian's default for /etc/shadow
    std::string user;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--method" && i + 1 < argc) {
            const std::string_view method = argv[++i];
            if (method == "yescrypt") prefix = "$y$";
            else if (method == "sha512") prefix = "$6$";
            else return usage();
        } else if (arg == "-h" || arg == "--help") {
            usage();
            return 0;
        } else if (user.empty() && !arg.empty() && arg.front() != '-') {
            user = std::string(arg);
        } else {
            return usage();
        }
    }
    if (user.empty()) return usage();
    if (user.find(':') != std::string::npos || user.size() > 256 ||
        user.find_first_of(" \t\r\n#") != std::string::npos) {
        std::cerr << "bitsd passwd: USER must not contain ':', whitespace or '#' (at most 256 bytes)\n";
        return 2;
    }
    std::string password;
    if (!read_password("Password: ", password) || password.empty()) {
        std::cerr << "bitsd passwd: no password given\n";
        return 2;
    }
    if (password.size() > max_password_length) {
        std::cerr << "bitsd passwd: the password is longer than 1024 bytes\n";
        return 2;
    }
    if (isatty(STDIN_FILENO) != 0) {
        std::string again;
        if (!read_password("Again: ", again) || again != password) {
            std::cerr << "bitsd passwd: the passwords differ\n";
            return 2;
        }
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting) == nullptr) {
        std::cerr << "bitsd passwd: cannot make a salt: " << std::strerror(errno) << "\n";
        return 1;
    }
    crypt_data data{};
    const char* hash = crypt_rn(password.c_str(), setting, &data, sizeof data);
    if (hash == nullptr || hash[0] == '*') {
        std::cerr << "bitsd passwd: hashing failed\n";
        return 1;
    }
    std::cout << user << ':' << hash << "\n";
    return 0;
}

}  // namespace bitsd::main
