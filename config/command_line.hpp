#pragma once
// The command line: bitsd [--config FILE] [--listen HOST:PORT]... [--data-dir DIR]
// [--log-level LEVEL] [--check-config [--create-dirs]] [--probe [URL]] [--version] [--help].
// Precedence: flags > environment (config/environment.hpp) > config file > embedded defaults.

#include "config/config.hpp"
#include "config/environment.hpp"

#include <string>

namespace bitsd::config {

enum class command_action {
    run,           // start the daemon with `settings`
    check_config,  // validate, bind and release the listeners, print a summary, exit 0
    probe,         // health probe: one HTTP request, exit 0 on a 2xx (main/probe.hpp)
    exit_ok,       // --help or --version was printed: exit 0
    exit_error,    // a usage or configuration error was printed: exit 2
};

struct command_result {
    command_action action = command_action::run;
    settings config;
    std::string output;  // text to print (help, version, summary or the error message)
    // check_config: create missing directories (--create-dirs) instead of only checking that
    // they could be created.
    bool create_directories = false;
    // probe: the URL given to --probe; without one, bitsd pings its own first listener.
    std::optional<std::string> probe_url;
};

// Parses argv, loads the config file if given, applies flags over it, applies defaults and
// validates. Does not touch the filesystem except to read the config file.
// Reads the process environment.
command_result parse_command_line(int argc, const char* const* argv);
command_result parse_command_line(int argc, const char* const* argv, const environment& env);

// "bitsd 0.1.0 (git 454c20d)": what --version prints.
std::string version_line();

}  // namespace bitsd::config
