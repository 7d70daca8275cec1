#pragma once
// The process's limit on open file descriptors (RLIMIT_NOFILE on POSIX), which sockets and
// files share: a daemon that runs out accepts nothing until some close. At start-up bitsd
// raises its soft limit to the hard one (a shell's 1,024 is the soft default; systemd and
// Docker set a higher hard limit), then keeps its connection caps under what is left
// (descriptor_budget). POSIX in file_limit_posix.cpp; Windows has no such per-process limit
// on sockets (file_limit_windows.cpp).

#include <cstdint>
#include <optional>
#include <string>

namespace bitsd::server {

struct file_limit {
    std::uint64_t before = 0;  // the soft limit found at start-up
    std::uint64_t now = 0;     // the soft limit in force after raising it
    std::string error;         // why it could not be raised ("" when it was, or need not be)
};

// Raises the soft limit to the hard one. nullopt: the platform has no such limit, or it is
// unlimited.
std::optional<file_limit> raise_file_limit();

}  // namespace bitsd::server
