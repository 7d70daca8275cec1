#include "main/check_config.hpp"

#include "server/listener_check.hpp"
#include "server/tls/tls_context.hpp"

#include <iostream>

namespace bitsd::cli {

int run_check_config(const config::command_result& parsed) {
    const auto action = parsed.create_directories ? config::directory_action::create
                                                  : config::directory_action::check_only;
    std::vector<std::filesystem::path> missing;
    if (const auto error = config::prepare_directories(parsed.config, action, &missing)) {
        std::cerr << "bitsd: " << error->message << "\n";
        return 2;
    }
    if (const auto error = server::check_listeners(parsed.config.listen)) {
        std::cerr << "bitsd: " << *error << "\n";
        return 2;
    }
    if (const auto error = server::check_tls_files(parsed.config.listen)) {
        std::cerr << "bitsd: " << *error << "\n";
        return 2;
    }
    std::cout << parsed.output;
    for (const auto& dir : missing) {
        std::cout << "missing, created at start-up: " << dir.u8string() << "\n";
    }
    std::cout << "listeners: every endpoint can be bound\n";
    return 0;
}

}  // namespace bitsd::cli
