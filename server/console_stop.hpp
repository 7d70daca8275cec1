#pragma once
// Stopping the daemon from a Windows console: Ctrl-C arrives as SIGINT through the C runtime,
// but Ctrl-Break, closing the console window, logoff and shutdown do not arrive as signals at
// all. The handler turns them into SIGTERM, which the daemon's signal_set already handles, so
// every way to stop bitsd on Windows is the same graceful stop. Service wrappers (NSSM, WinSW:
// README "Windows") stop a console program this way. Does nothing on POSIX, where SIGTERM is
// delivered by the kernel.

namespace bitsd::server {

void install_console_stop_handler();

}  // namespace bitsd::server
