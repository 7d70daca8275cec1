#include "server/file_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace bitsd::server {

std::optional<file_limit> raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
    if (limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
    file_limit result;
    result.before = limit.rlim_cur;
    result.now = limit.rlim_cur;
    // Linux refuses an unlimited hard value for RLIMIT_NOFILE anyway; where it is reported,
    // the soft limit stays (fs.nr_open is the real ceiling).
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max > limit.rlim_cur) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            result.now = raised.rlim_cur;
        } else {
            result.error = std::strerror(errno);
        }
    }
    return result;
}

}  // namespace bitsd::server
