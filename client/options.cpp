#include "client/options.hpp"

#include "client/upload_rules.hpp"

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#ifndef BITS_UPLOAD_VERSION
#define BITS_UPLOAD_VERSION "0"
#endif

namespace bitsd::client {
namespace {

constexpr std::uint64_t max_fragment_size = 1ull << 30;

constexpr const char* footer = R"(Resuming:
  The session id and the server's offset are kept in a state file (FILE.bits-upload beside
  FILE, or --state). Running the same command again, after Ctrl-C, a network drop or a server
  restart, continues where the server's bytes end. The state is discarded (and the old session
  cancelled) when FILE or URL changed; it is deleted once the upload is complete.

Exit codes:
  0    uploaded (or, with --cancel, cancelled)
  2    usage or configuration error
  3    local file error (FILE unreadable or changed during the upload, state or reply file)
  4    the server refused the upload (fatal error: the message names the HTTP status and the
       BITS error code)
  5    gave up after --retries failures in a row (network or transient server errors)
  130  interrupted (SIGINT/SIGTERM); the state is kept: run the same command to resume

Environment:
  BITS_UPLOAD_PASSWORD  the password for --user when --password is not given)";

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0 || digits > 19) return std::nullopt;
    std::uint64_t value = std::stoull(std::string(text.substr(0, digits)));
    std::string unit;
    for (const char c : text.substr(digits)) {
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::uint64_t factor = 1;
    if (unit.empty() || unit == "b") {
        factor = 1;
    } else if (unit == "k" || unit == "kb" || unit == "kib") {
        factor = 1ull << 10;
    } else if (unit == "m" || unit == "mb" || unit == "mib") {
        factor = 1ull << 20;
    } else if (unit == "g" || unit == "gb" || unit == "gib") {
        factor = 1ull << 30;
    } else {
        return std::nullopt;
    }
    if (value > UINT64_MAX / factor) return std::nullopt;
    return value * factor;
}

parsed_options parse_options(int argc, const char* const* argv) {
    parsed_options result;
    auto& o = result.values;
    CLI::App app{"bits-upload: uploads FILE to URL with the BITS upload protocol (Ping, "
                 "Create-Session, fragments, Close-Session), resumably.",
                 "bits-upload"};
    app.footer(footer);
    // CLI11 reads "/name" as an option on Windows by default: a path such as /tmp/a.bin (or a
    // Z:-less path under wine) would never reach FILE. bits-upload's options are "--name" only.
    app.allow_windows_style_options(false);
    app.get_formatter()->column_width(30);

    std::string fragment_size_text = "8MiB";
    unsigned retry_max_delay_s = 60;
    unsigned timeout_s = 300;
    bool version = false;
    app.add_option("FILE", o.file, "the file to upload")->required()->type_name("");
    app.add_option("URL", o.url_text, "the destination: http://[user:password@]host[:port]/path")
        ->required()
        ->type_name("");
    app.add_option("--fragment-size", fragment_size_text,
                   "bytes per Fragment (K, M, G suffixes; default 8MiB, at least 5KiB)")
        ->type_name("SIZE");
    app.add_option("--user", o.user, "user name for HTTP Basic authentication")->type_name("USER");
    app.add_option("--password", o.password,
                   "password for --user (or set BITS_UPLOAD_PASSWORD)")
        ->type_name("PASSWORD");
    app.add_option("--netrc", o.netrc,
                   "credentials from a netrc file: machine HOST login USER password PASS")
        ->type_name("FILE");
    app.add_option("--reply", o.reply,
                   "save the server's upload-reply (BITS-Reply-URL) in FILE")
        ->type_name("FILE");
    app.add_flag("--cancel", o.cancel,
                 "cancel the stored session (Cancel-Session), delete the state file");
    app.add_option("--state", o.state, "the state file (default: FILE.bits-upload)")
        ->type_name("FILE");
    app.add_option("--retries", o.retries,
                   "retries in a row without progress, then give up (default 10)")
        ->type_name("N");
    app.add_option("--retry-max-delay", retry_max_delay_s,
                   "longest wait between retries (1, 2, 4, ... s; default 60)")
        ->type_name("SECONDS");
    app.add_option("--timeout", timeout_s,
                   "wait for each response this long (default 300)")
        ->type_name("SECONDS");
    app.add_flag("-q,--quiet", o.quiet, "print nothing but errors");
    app.add_flag("--version", version, "print the version and exit");

    // --version and --help must work without FILE and URL.
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--version") {
            result.action = options_action::exit_ok;
            result.output = std::string("bits-upload ") + BITS_UPLOAD_VERSION + "\n";
            return result;
        }
        if (arg == "--") break;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        result.action = options_action::exit_ok;
        result.output = app.help();
        return result;
    } catch (const CLI::ParseError& e) {
        result.action = options_action::exit_error;
        result.output = std::string(e.what()) + "\nRun with --help for more information.";
        return result;
    }

    const auto size = parse_size(fragment_size_text);
    if (!size || *size < min_fragment_size || *size > max_fragment_size) {
        result.output = "--fragment-size: expected a size from 5KiB to 1GiB, got \"" +
                        fragment_size_text + "\"";
        return result;
    }
    o.fragment_size = *size;
    if (timeout_s == 0) {
        result.output = "--timeout: must be at least 1 second";
        return result;
    }
    o.retry_max_delay = std::chrono::seconds(retry_max_delay_s);
    o.timeout = std::chrono::seconds(timeout_s);
    auto url = parse_url(o.url_text);
    if (!url.url) {
        result.output = "URL \"" + o.url_text + "\": " + url.error;
        return result;
    }
    o.url = *url.url;
    if (o.password && !o.user) {
        result.output = "--password needs --user";
        return result;
    }
    result.action = options_action::run;
    return result;
}

std::optional<credentials> resolve_credentials(const options& opts, std::string& error) {
    error.clear();
    if (opts.user) {
        if (opts.password) return credentials{*opts.user, *opts.password};
        if (const char* env = std::getenv("BITS_UPLOAD_PASSWORD")) {
            return credentials{*opts.user, env};
        }
        error = "--user needs --password (or BITS_UPLOAD_PASSWORD in the environment)";
        return std::nullopt;
    }
    if (opts.url.user) return credentials{*opts.url.user, opts.url.password.value_or("")};
    if (opts.netrc) {
        std::ifstream in(*opts.netrc, std::ios::binary);
        if (!in) {
            error = "--netrc: cannot read " + *opts.netrc;
            return std::nullopt;
        }
        std::ostringstream text;
        text << in.rdbuf();
        auto found = find_netrc_credentials(text.str(), opts.url.host);
        if (!found) {
            error = "--netrc: " + *opts.netrc + " has no entry for " + opts.url.host +
                    " and no default entry";
        }
        return found;
    }
    return std::nullopt;
}

}  // namespace bitsd::client
