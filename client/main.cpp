// bits-upload: wiring only. Command line -> credentials -> uploader; the exit code is its.

#include "client/console.hpp"
#include "client/interrupt.hpp"
#include "client/options.hpp"
#include "client/progress_reporter.hpp"
#include "client/request_builder.hpp"
#include "client/uploader.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    using namespace bitsd::client;
    auto parsed = parse_options(argc, argv);
    switch (parsed.action) {
    case options_action::exit_ok:
        std::cout << parsed.output;
        return exit_uploaded;
    case options_action::exit_error:
        std::cerr << "bits-upload: " << parsed.output << "\n";
        return exit_usage;
    case options_action::run:
        break;
    }
    std::string error;
    const auto creds = resolve_credentials(parsed.values, error);
    if (!error.empty()) {
        std::cerr << "bits-upload: " << error << "\n";
        return exit_usage;
    }
    std::optional<std::string> authorization;
    if (creds) authorization = basic_authorization(creds->user, creds->password);

    const auto mode = parsed.values.quiet ? output_mode::quiet
                      : stderr_is_terminal() ? output_mode::bar
                                             : output_mode::lines;
    progress_reporter progress(mode, std::cerr, terminal_columns());
    install_interrupt_handlers();
    try {
        uploader upload(std::move(parsed.values), std::move(authorization), progress);
        return upload.run();
    } catch (const std::exception& e) {
        // Nothing is expected to throw; if something does, say so rather than abort().
        progress.error(std::string("internal error: ") + e.what());
        return exit_refused;
    }
}
