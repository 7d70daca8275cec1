#include "server/console_stop.hpp"

#include <csignal>

#include <windows.h>

namespace bitsd::server {
namespace {

BOOL WINAPI on_console_event(DWORD event) {
    // Ctrl-C: FALSE lets the C runtime's own handler raise SIGINT, as on POSIX.
    if (event == CTRL_C_EVENT) return FALSE;
    // Ctrl-Break, close, logoff, shutdown: SIGTERM through the C runtime, which calls Asio's
    // handler on this thread; the signal_set then stops the daemon on its own thread.
    std::raise(SIGTERM);
    if (event == CTRL_BREAK_EVENT) return TRUE;
    // For close, logoff and shutdown Windows ends the process as soon as this returns (and
    // after a few seconds anyway): wait here so the stop can flush and close what it can. The
    // process exits from main meanwhile, which ends this thread too.
    ::Sleep(20000);
    return TRUE;
}

}  // namespace

void install_console_stop_handler() { ::SetConsoleCtrlHandler(on_console_event, TRUE); }

}  // namespace bitsd::server
