// Windows counterpart of interrupt_posix.cpp: a console control handler. Ctrl-C, Ctrl-Break,
// closing the console window, logoff and shutdown only set the flag; the upload unwinds as on
// SIGINT. The handler runs on a thread of its own, hence the atomic. (Windows has no SIGPIPE:
// a send to a closed socket fails with an error.)
#include "client/interrupt.hpp"

#include <atomic>

#include <windows.h>

namespace bitsd::client {
namespace {

std::atomic<bool> interrupt_flag{false};

BOOL WINAPI on_console_event(DWORD) {
    interrupt_flag = true;
    // For a close, logoff or shutdown Windows ends the process when this returns; the
    // upload's state file is written atomically at every step, so the next run resumes.
    return TRUE;
}

}  // namespace

void install_interrupt_handlers() { ::SetConsoleCtrlHandler(on_console_event, TRUE); }

bool interrupted() noexcept { return interrupt_flag; }

}  // namespace bitsd::client
