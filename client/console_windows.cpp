// Windows counterpart of console_posix.cpp.
#include "client/console.hpp"

#include <windows.h>

namespace bitsd::client {

bool stderr_is_terminal() noexcept {
    DWORD mode = 0;
    // GetConsoleMode succeeds only on a console, not on a file or a pipe.
    return ::GetConsoleMode(::GetStdHandle(STD_ERROR_HANDLE), &mode) != 0;
}

unsigned terminal_columns() noexcept {
    CONSOLE_SCREEN_BUFFER_INFO info{};
    if (::GetConsoleScreenBufferInfo(::GetStdHandle(STD_ERROR_HANDLE), &info)) {
        const int columns = info.srWindow.Right - info.srWindow.Left + 1;
        if (columns > 0) return static_cast<unsigned>(columns);
    }
    return 80;
}

}  // namespace bitsd::client
