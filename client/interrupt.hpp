#pragma once
// Ctrl-C and SIGTERM: the handler only sets a flag; the channel and the backoff sleeps poll it
// (at least every 100 ms) and unwind, so the state file is never left half-written.
// POSIX in interrupt_posix.cpp; Windows in interrupt_windows.cpp (a console control handler).

namespace bitsd::client {

void install_interrupt_handlers();
bool interrupted() noexcept;

}  // namespace bitsd::client
