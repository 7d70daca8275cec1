// Windows: sockets are kernel handles without a per-process table of fixed size like POSIX's
// RLIMIT_NOFILE (the C runtime's stdio limit does not apply to them): nothing to raise, and
// nothing to clamp the connection caps to.
#include "server/file_limit.hpp"

namespace bitsd::server {

std::optional<file_limit> raise_file_limit() { return std::nullopt; }

}  // namespace bitsd::server
