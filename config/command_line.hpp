#pragma once
// The command line: bitsd [--config FILE] [--listen HOST:PORT]... [--data-dir DIR]
// [--log-level LEVEL] [--check-config] [--version] [--help].

#include "config/config.hpp"

#include <string>

namespace bitsd::config {

enum class command_action {
    run,           // start the daemon with `settings`
    check_config,  // validate, print a summary, exit 0
    exit_ok,       // --help or --version was printed: exit 0
    exit_error,    // a usage or configuration error was printed: exit 2
};

struct command_result {
    command_action action = command_action::run;
    settings config;
    std::string output;  // text to print (help, version, summary or the error message)
};

// Parses argv, loads the config file if given, applies flags over it, applies defaults and
// validates. Does not touch the filesystem except to read the config file.
command_result parse_command_line(int argc, const char* const* argv);

}  // namespace bitsd::config
