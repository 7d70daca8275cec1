#pragma once
// `bitsd sessions list|show ID|cancel ID|purge --older-than DURATION`: the sessions of a data
// directory, for operators (main/sessions_command.cpp).

namespace bitsd::cli {

// argv[0] is "sessions". Returns the process exit code (main/exit_codes.hpp).
int sessions_command(int argc, const char* const* argv);

}  // namespace bitsd::cli
