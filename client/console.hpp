#pragma once
// Whether progress goes to a terminal (a redrawn bar) or to a log (plain lines), and how wide
// the terminal is. POSIX in console_posix.cpp, Windows in
// console_windows.cpp.

namespace bitsd::client {

bool stderr_is_terminal() noexcept;
unsigned terminal_columns() noexcept;  // 80 when unknown

}  // namespace bitsd::client
