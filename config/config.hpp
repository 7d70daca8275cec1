#pragma once
// One immutable, validated configuration value: what bitsd was told to do, from its embedded
// defaults, a JSON file (--config) and CLI flags, in that order of precedence (flags win).

#include "config/abuse_limits.hpp"
#include "config/auth_settings.hpp"
#include "storage/data_dir_layout.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bitsd::config {

// listen[i].tls: the listener speaks TLS (1.2 and 1.3) with this certificate chain and key,
// PEM files read at start-up and again on SIGHUP.
struct tls_files {
    std::filesystem::path cert;  // the certificate chain, leaf first
    std::filesystem::path key;   // its private key (unencrypted PEM)
};

struct listen_endpoint {
    std::string host;  // IPv4 or IPv6 literal, as written (without brackets)
    std::uint16_t port = 0;  // 0 = any free port (the bound port is logged)
    std::optional<tls_files> tls;  // nullopt: plain HTTP (the string form)
};

// Whether this build can serve TLS (BITSD_WITH_TLS; a build without OpenSSL refuses a "tls"
// listener when it reads the configuration).
#ifdef BITSD_WITH_TLS
inline constexpr bool tls_supported = true;
#else
inline constexpr bool tls_supported = false;
#endif

// uploads[].notification (issue 7): where a completed upload is forwarded, as IIS's BITS
// server extension does with its notification URL.
enum class notification_type { none, reference, value };
enum class delivery_mode { sync, async };

// The async outbox's backoff: capped exponential with full jitter, given up after a while.
struct retry_policy {
    std::uint64_t initial_s = 1;
    std::uint64_t max_s = 300;
    std::uint64_t give_up_after_s = 604800;  // 7 days
};

struct notification_settings {
    notification_type type = notification_type::none;  // none: files only land in destination_dir
    // absolute http(s) URL, or relative to the upload URL on public_base_url (as IIS resolves it)
    std::string url;
    std::uint64_t timeout_s = 120;  // the whole exchange; under the client's 5-minute limit
    delivery_mode delivery = delivery_mode::sync;
    retry_policy retry;
    std::filesystem::path signing_secret_file;  // empty: deliveries are not signed
};

struct upload_prefix {
    std::string url_prefix = "/uploads/";  // starts and ends with '/'
    std::filesystem::path destination_dir;  // where completed files land
    bool allow_overwrites = false;
    // This destination may contain (or equal) another prefix's destination. Set on the outer
    // one; equal destinations need it on both.
    bool allow_nested_destination = false;
    std::uint64_t max_upload_size = 0;       // bytes; 0 = no limit
    std::uint64_t session_timeout_s = 1209600;  // 14 days, as IIS's BITSSessionTimeout
    notification_settings notification;
    // Open sessions one principal (without authentication: one client address) may hold under
    // this prefix, as IIS's BITSNumberOfSessionsLimit; beyond it Create-Session is refused
    // (403, fatal for the job). 0 = no cap of its own: limits.max_open_sessions_per_client
    // caps every principal anyway (all prefixes together, transient).
    std::uint64_t max_sessions_per_user = 0;
    auth_settings auth;  // who may upload here (default: anyone)
};

// The names bitsd itself keeps inside data_dir (storage/data_dir_layout.hpp: the session store,
// its lock and journal, the operator's retry requests). A destination that is or lies inside
// one of them, equal to data_dir or containing it is refused at start-up: clients would write
// where bitsd trusts what it finds. Any other folder inside data_dir (the default
// <data_dir>/files) is a separate subtree and safe.
inline constexpr const auto& data_dir_subfolders = storage::data_dir_layout::reserved;

enum class fsync_mode { durable, none };
enum class log_level { trace, debug, info, warn, error, critical, off };
enum class log_format { text, json };

struct settings {
    std::vector<listen_endpoint> listen;          // default: 0.0.0.0:8080
    std::filesystem::path data_dir = "bitsd-data";
    std::uint64_t max_fragment_size = 32ull * 1024 * 1024;  // per request; larger -> 413
    std::optional<std::string> host_id;           // BITS-Host-Id on Create-Session Acks
    std::optional<std::uint64_t> host_id_fallback_timeout_s;  // only with host_id
    // "https://bits.example.org": the URL clients reach bitsd at. Relative notification URLs
    // resolve against it, and BITS-Original-Request-URL and the reply URL use it. Empty: the
    // back-end is told the listener's own address, the reply URL uses the client's Host, and
    // a relative notification URL is refused. Never the client's Host for the back-end.
    std::string public_base_url;
    fsync_mode fsync = fsync_mode::durable;
    std::vector<upload_prefix> uploads;           // default: /uploads/ -> <data_dir>/files
    std::uint64_t read_timeout_s = 120;           // a whole header; a body's base deadline
    std::uint64_t idle_timeout_s = 120;           // until the first byte of a request
    std::uint64_t min_body_rate_bytes_per_s = 256;  // a body's deadline grows with it; 0 = off
    std::uint64_t busy_timeout_s = 60;            // waiting for a busy session, then 503
    unsigned blocking_threads = 4;                // threads for disk work (commits, fsync)
    std::uint64_t cleanup_interval_s = 3600;      // how often expired sessions are swept
    // SIGTERM/SIGINT: how long requests in flight may take before they are cut. 8 s fits
    // inside Docker's default stop timeout (10 s, then SIGKILL) with 2 s left to cut, flush
    // and exit; systemd's default (TimeoutStopSec=90s) is far above it.
    std::uint64_t shutdown_timeout_s = 8;
    unsigned threads = 0;                         // I/O threads; 0 = one per core
    log_level level = log_level::info;
    // Operations (issue 8): the admin listener (/healthz, /readyz, /metrics, /api/sessions, the
    // status page); nullopt = off ("admin_listen": "off" or null). Loopback by default: it
    // shows session ids and paths, so it is not for the open network.
    std::optional<listen_endpoint> admin_listen = listen_endpoint{"127.0.0.1", 9090, std::nullopt};
    // Host names (lower case) the admin listener answers besides its own address (and localhost
    // on a loopback or wildcard listener): any other Host is refused, so a page whose name is
    // made to resolve to the admin address (DNS rebinding) reads nothing.
    std::vector<std::string> admin_allowed_hosts;
    log_format format = log_format::text;         // "log_format": one line of text or JSON
    log_level access_log_level = log_level::info;  // one line per request at this level
    abuse_limits limits;                          // "limits": connection, session and disk caps
};

// A configuration error: one message naming the key (e.g. "uploads[0].url_prefix: must start
// with '/'"). Start-up stops on it; bitsd never runs half-configured.
struct config_error {
    std::string message;
};

// Parses and validates a JSON document (the content of a config file). Unknown keys, wrong
// types and bad values are errors. Relative paths are taken relative to the working directory.
// Fills defaults for what the document leaves out.
std::optional<config_error> parse_json(const std::string& json_text, settings& out);

// Checks what needs the outside world: creates data_dir and every destination_dir when missing
// and proves each writable. Call after all overrides are applied.
// check_only (--check-config without --create-dirs) creates nothing: a missing directory must
// be creatable (its nearest existing parent a writable directory) and is added to `missing`.
enum class directory_action { create, check_only };
std::optional<config_error> prepare_directories(const settings& s,
                                                directory_action action = directory_action::create,
                                                std::vector<std::filesystem::path>* missing = nullptr);

// Fills values that depend on others: uploads default to one prefix "/uploads/" landing in
// <data_dir>/files; listen defaults to 0.0.0.0:8080.
void apply_defaults(settings& s);

// Parses "host:port", "[v6]:port" into an endpoint; nullopt with a reason when malformed.
std::optional<listen_endpoint> parse_listen(const std::string& text, std::string& why);

const char* to_string(log_level level) noexcept;
const char* to_string(log_format format) noexcept;
std::optional<log_format> parse_log_format(std::string_view name) noexcept;

// The inverse of to_string(log_level): "trace" .. "off"; nullopt for anything else.
std::optional<log_level> parse_log_level(std::string_view name) noexcept;

// "1.2.3.4:80" or "[::1]:80": the form parse_listen accepts, for logs and summaries.
std::string to_string(const listen_endpoint& endpoint);

}  // namespace bitsd::config
