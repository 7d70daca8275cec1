#pragma once
// bitsd's exit codes, the same for the daemon and its subcommands (README "Exit codes").

namespace bitsd::exit_code {

constexpr int ok = 0;
constexpr int failure = 1;          // start-up failed (cannot listen, cannot open the store), or
                                    // an I/O error in a subcommand
constexpr int usage = 2;            // bad command line or bad configuration
constexpr int data_dir_in_use = 3;  // another bitsd holds <data_dir>/bitsd.lock
constexpr int not_found = 4;        // `bitsd sessions show|cancel ID`: no such session
// A second SIGTERM/SIGINT during the drain ends the daemon at once with 128 + the signal
// (143, 130), as a shell reports a process killed by it.

}  // namespace bitsd::exit_code
