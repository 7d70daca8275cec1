#pragma once
// `bitsd --check-config [--create-dirs]`: everything start-up would check, without starting.
// The configuration is valid, the directories exist and are writable or could be created (made
// only with --create-dirs), and every listener can be bound (bound, then released at once).
// Prints the summary and exits 0, or prints the one error and exits 2.

#include "config/command_line.hpp"

namespace bitsd::cli {

int run_check_config(const config::command_result& parsed);

}  // namespace bitsd::cli
