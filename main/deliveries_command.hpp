#pragma once
// `bitsd deliveries list|retry`: the operator's view of the async outbox, on the data_dir.

namespace bitsd::cli {

// argv[1] is "deliveries". Returns the process exit code: 0 done, 1 the action failed (no such
// delivery, not dead-lettered, the data_dir unreadable), 2 usage or configuration error.
int run_deliveries_command(int argc, const char* const* argv);

}  // namespace bitsd::cli
