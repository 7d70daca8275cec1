#include "client/console.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace bitsd::client {

bool stderr_is_terminal() noexcept { return ::isatty(STDERR_FILENO) == 1; }

unsigned terminal_columns() noexcept {
    struct winsize size {};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

}  // namespace bitsd::client
