#include "server/console_stop.hpp"

namespace bitsd::server {

void install_console_stop_handler() {}  // SIGINT and SIGTERM come from the kernel

}  // namespace bitsd::server
