#include "config/json_reader.hpp"

#include "config/duplicate_key_detector.hpp"
#include "config/auth_reader.hpp"
#include "config/limits_reader.hpp"
#include "config/listen_list.hpp"
#include "config/json_value_text.hpp"
#include "config/listen_reader.hpp"
#include "config/operations_keys.hpp"
#include "config/platform_support.hpp"
#include "protocol/notification.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <exception>
#include <map>
#include <string_view>

namespace bitsd::config {

namespace {

using json = nlohmann::json;

// Seconds beyond this overflow a std::chrono::nanoseconds deadline long before they are
// useful; 100 years is "forever" for every timeout bitsd has.
constexpr std::uint64_t max_seconds = 100ull * 365 * 24 * 3600;
constexpr unsigned max_threads = 256;
constexpr std::size_t max_host_id_length = 300;
// A drain longer than an hour is no drain: every service manager kills the process first.
constexpr std::uint64_t max_shutdown_timeout_s = 3600;

std::string json_quoted(const std::string& text) {
    // dump() escapes quotes and control characters, so a hostile key stays on one line.
    return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

config_error error_at(const std::string& path, const std::string& what) {
    return config_error{path.empty() ? what : path + ": " + what};
}

config_error type_error(const std::string& path, const std::string& expected, const json& value) {
    return error_at(path, "expected " + expected + ", got " + describe_json_value(value));
}

// Integers only: 1.0, 1e3, "5", true and negative numbers are refused, as is anything beyond
// uint64 (nlohmann parses those as floating point).
std::optional<config_error> read_uint(const json& value, const std::string& path,
                                      std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
    const char* expected = min == 0 ? "a non-negative integer" : "a positive integer";
    if (!value.is_number_unsigned()) return type_error(path, expected, value);
    const auto number = value.get<std::uint64_t>();
    if (number < min) return type_error(path, expected, value);
    if (number > max) return error_at(path, "must be at most " + std::to_string(max));
    out = number;
    return std::nullopt;
}

std::optional<config_error> read_seconds(const json& value, const std::string& path,
                                         std::uint64_t min, std::uint64_t& out) {
    auto error = read_uint(value, path, min, max_seconds, out);
    if (error && value.is_number_unsigned() && value.get<std::uint64_t>() > max_seconds) {
        error->message += " (100 years)";
    }
    return error;
}

std::optional<config_error> read_bool(const json& value, const std::string& path, bool& out) {
    if (!value.is_boolean()) return type_error(path, "true or false", value);
    out = value.get<bool>();
    return std::nullopt;
}

// Paths in the file are UTF-8 (JSON text is); u8path keeps them right on Windows too, where
// a plain narrow string would be read in the ANSI code page.
std::optional<config_error> read_path(const json& value, const std::string& path,
                                      std::filesystem::path& out) {
    if (!value.is_string()) return type_error(path, "a path string", value);
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty()) return error_at(path, "must not be empty");
    if (text.find('\0') != std::string::npos) return error_at(path, "must not contain NUL");
    out = std::filesystem::u8path(text);
    return std::nullopt;
}

bool is_visible_ascii(char c) { return c > 0x20 && c < 0x7f; }

std::optional<config_error> read_host_id(const json& value, const std::string& path,
                                         std::optional<std::string>& out) {
    if (!value.is_string()) return type_error(path, "a string", value);
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty()) return error_at(path, "must not be empty");
    if (text.size() > max_host_id_length) {
        return error_at(path, "longer than " + std::to_string(max_host_id_length) + " characters");
    }
    // It goes out verbatim as the BITS-Host-Id header value: keep it to visible ASCII.
    for (char c : text) {
        if (!is_visible_ascii(c)) {
            return error_at(path, "must be visible ASCII (no whitespace, control or non-ASCII "
                                  "characters)");
        }
    }
    out = text;
    return std::nullopt;
}

std::optional<config_error> read_fsync(const json& value, const std::string& path,
                                       fsync_mode& out) {
    const std::string expected = "\"durable\" or \"none\"";
    if (!value.is_string()) return type_error(path, expected, value);
    const auto& text = value.get_ref<const std::string&>();
    if (text == "durable") {
        out = fsync_mode::durable;
    } else if (text == "none") {
        out = fsync_mode::none;
    } else {
        return type_error(path, expected, value);
    }
    return std::nullopt;
}

std::optional<config_error> read_log_level(const json& value, const std::string& path,
                                           log_level& out) {
    const std::string expected = "one of trace, debug, info, warn, error, critical, off";
    if (!value.is_string()) return type_error(path, expected, value);
    const auto level = parse_log_level(value.get_ref<const std::string&>());
    if (!level) return type_error(path, expected, value);
    out = *level;
    return std::nullopt;
}

std::optional<config_error> read_threads(const json& value, const std::string& path,
                                         unsigned& out, unsigned min = 0) {
    const std::string expected =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max_threads);
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max_threads ||
        value.get<std::uint64_t>() < min) {
        return type_error(path, expected, value);
    }
    out = static_cast<unsigned>(value.get<std::uint64_t>());
    return std::nullopt;
}

// Why a notification URL is unusable, or nullopt: checked the way it will be used, resolved
// against a made-up upload URL by the notification rules (whether a relative one has its
// public_base_url is checked once every source of settings is read: check_public_base_url).
std::optional<std::string> notification_url_problem(const std::string& url) {
    if (url.empty()) return "must not be empty";
    protocol::notification_input input;
    input.upload = {"http", "bitsd.invalid", "/uploads/file"};
    input.public_base_url = "http://bitsd.invalid";
    input.notification_url = url;
    protocol::notification_request request;
    const auto ec = protocol::build_notification(input, request);
    if (ec == protocol::notification_errc::url_too_long) {
        return "longer than " + std::to_string(protocol::max_url_length) + " characters";
    }
    if (ec) {
        return "must be an absolute http:// or https:// URL or a reference relative to the upload "
               "URL, without userinfo, fragment or characters a URL cannot carry";
    }
    return std::nullopt;
}

// Why a URL prefix is unusable, or nullopt. The prefix is compared with request targets as
// sent, so it must be written the way a client sends it: no escapes, no dot segments.
std::optional<std::string> url_prefix_problem(const std::string& prefix) {
    if (prefix.empty() || prefix.front() != '/' || prefix.back() != '/') {
        return "must start and end with '/'";
    }
    for (char c : prefix) {
        if (!is_visible_ascii(c)) return "must be visible ASCII (no spaces or control characters)";
        if (c == '\\') return "must not contain '\\'";
        if (c == '%') return "must not contain '%' (write the prefix unescaped)";
        if (c == '?' || c == '#') return "must not contain '?' or '#'";
    }
    if (prefix.find("..") != std::string::npos) return "must not contain \"..\"";
    if (prefix.find("//") != std::string::npos) return "must not contain an empty segment \"//\"";
    if (prefix.find("/./") != std::string::npos) return "must not contain a \".\" segment";
    return std::nullopt;
}

// The Windows client gives up on a response after 5 minutes (its HTTP receive timeout); a
// back-end that takes longer than that is answered by nobody. timeout_s stays under it.
constexpr std::uint64_t max_notification_timeout_s = 299;

std::optional<config_error> read_retry(const json& value, const std::string& path,
                                       retry_policy& out) {
    if (!value.is_object()) return type_error(path, "an object", value);
    retry_policy retry;
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const std::string key_path = join(path, key);
        std::optional<config_error> error;
        if (key == "initial_s") {
            error = read_seconds(item.value(), key_path, 1, retry.initial_s);
        } else if (key == "max_s") {
            error = read_seconds(item.value(), key_path, 1, retry.max_s);
        } else if (key == "give_up_after_s") {
            error = read_seconds(item.value(), key_path, 1, retry.give_up_after_s);
        } else {
            return error_at(path, "unknown key " + json_quoted(key));
        }
        if (error) return error;
    }
    if (retry.max_s < retry.initial_s) {
        return error_at(join(path, "max_s"), "must be at least initial_s (" +
                                                 std::to_string(retry.initial_s) + ")");
    }
    out = retry;
    return std::nullopt;
}

std::optional<config_error> read_notification(const json& value, const std::string& path,
                                              notification_settings& out) {
    if (!value.is_object()) return type_error(path, "an object", value);
    notification_settings n;
    bool has_url = false;
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const json& field = item.value();
        const std::string key_path = join(path, key);
        std::optional<config_error> error;
        if (key == "type") {
            const std::string expected = "\"none\", \"reference\" or \"value\"";
            if (!field.is_string()) return type_error(key_path, expected, field);
            const auto& text = field.get_ref<const std::string&>();
            if (text == "none") {
                n.type = notification_type::none;
            } else if (text == "reference") {
                n.type = notification_type::reference;
            } else if (text == "value") {
                n.type = notification_type::value;
            } else {
                return type_error(key_path, expected, field);
            }
        } else if (key == "url") {
            if (!field.is_string()) return type_error(key_path, "a URL string", field);
            n.url = field.get<std::string>();
            if (auto problem = notification_url_problem(n.url)) return error_at(key_path, *problem);
            has_url = true;
        } else if (key == "timeout_s") {
            error = read_uint(field, key_path, 1, max_notification_timeout_s, n.timeout_s);
            if (error && field.is_number_unsigned() &&
                field.get<std::uint64_t>() > max_notification_timeout_s) {
                error->message += " (under the Windows client's 5-minute response timeout)";
            }
        } else if (key == "delivery") {
            const std::string expected = "\"sync\" or \"async\"";
            if (!field.is_string()) return type_error(key_path, expected, field);
            const auto& text = field.get_ref<const std::string&>();
            if (text == "sync") {
                n.delivery = delivery_mode::sync;
            } else if (text == "async") {
                n.delivery = delivery_mode::async;
            } else {
                return type_error(key_path, expected, field);
            }
        } else if (key == "retry") {
            error = read_retry(field, key_path, n.retry);
        } else if (key == "signing_secret_file") {
            error = read_path(field, key_path, n.signing_secret_file);
        } else {
            return error_at(path, "unknown key " + json_quoted(key));
        }
        if (error) return error;
    }
    if (n.type != notification_type::none && !has_url) {
        return error_at(join(path, "url"), "is required when type is not \"none\"");
    }
    // By value the back-end's response body is the reply, and it exists only in the answer an
    // async Ack does not wait for: the client would get an upload-reply without its reply.
    if (n.type == notification_type::value && n.delivery == delivery_mode::async) {
        return error_at(join(path, "delivery"),
                        "\"async\" cannot carry an upload-reply: type \"value\" needs \"sync\"");
    }
    out = std::move(n);
    return std::nullopt;
}

std::optional<config_error> read_upload(const json& value, const std::string& path,
                                        upload_prefix& out) {
    if (!value.is_object()) return type_error(path, "an object", value);
    upload_prefix upload;
    bool has_prefix = false;
    bool has_destination = false;
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const json& field = item.value();
        const std::string key_path = join(path, key);
        std::optional<config_error> error;
        if (key == "url_prefix") {
            if (!field.is_string()) {
                return type_error(key_path, "a string such as \"/uploads/\"", field);
            }
            upload.url_prefix = field.get<std::string>();
            if (auto problem = url_prefix_problem(upload.url_prefix)) {
                return error_at(key_path, *problem);
            }
            has_prefix = true;
        } else if (key == "destination_dir") {
            error = read_path(field, key_path, upload.destination_dir);
            has_destination = true;
        } else if (key == "allow_overwrites") {
            error = read_bool(field, key_path, upload.allow_overwrites);
        } else if (key == "allow_nested_destination") {
            error = read_bool(field, key_path, upload.allow_nested_destination);
        } else if (key == "max_upload_size") {
            error = read_uint(field, key_path, 0, UINT64_MAX, upload.max_upload_size);
        } else if (key == "session_timeout_s") {
            error = read_seconds(field, key_path, 1, upload.session_timeout_s);
        } else if (key == "notification") {
            error = read_notification(field, key_path, upload.notification);
        } else if (key == "max_sessions_per_user") {
            error = read_uint(field, key_path, 0, UINT64_MAX, upload.max_sessions_per_user);
        } else if (key == "auth") {
            error = read_auth(field, key_path, upload.auth);
        } else {
            return error_at(path, "unknown key " + json_quoted(key));
        }
        if (error) return error;
    }
    // Both are required: a default would hide a typo in a key the admin meant to set.
    if (!has_prefix) return error_at(join(path, "url_prefix"), "is required");
    if (!has_destination) return error_at(join(path, "destination_dir"), "is required");
    if (auto error = unsupported_upload_setting(upload, path)) return error;  // Windows: no OpenSSL
    out = std::move(upload);
    return std::nullopt;
}

std::optional<config_error> read_uploads(const json& value, const std::string& path,
                                         std::vector<upload_prefix>& out) {
    if (!value.is_array()) return type_error(path, "an array of objects", value);
    if (value.empty()) return error_at(path, "at least one upload prefix is required");
    std::vector<upload_prefix> uploads;
    std::map<std::string, std::size_t> index_of_prefix;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        upload_prefix upload;
        if (auto error = read_upload(value[i], item_path, upload)) return error;
        const auto [it, inserted] = index_of_prefix.emplace(upload.url_prefix, i);
        if (!inserted) {
            return error_at(item_path + ".url_prefix",
                            "duplicate prefix " + json_quoted(upload.url_prefix) + " (also " +
                                path + "[" + std::to_string(it->second) + "])");
        }
        uploads.push_back(std::move(upload));
    }
    out = std::move(uploads);
    return std::nullopt;
}

std::optional<config_error> read_document(const json& doc, settings& s) {
    if (!doc.is_object()) {
        return config_error{"the configuration must be a JSON object, got " + describe_json_value(doc)};
    }
    for (const auto& item : doc.items()) {
        const std::string& key = item.key();
        const json& value = item.value();
        std::optional<config_error> error;
        if (key == "listen") {
            error = read_listen(value, key, s.listen);
        } else if (key == "data_dir") {
            error = read_path(value, key, s.data_dir);
        } else if (key == "max_fragment_size") {
            error = read_uint(value, key, 1, UINT64_MAX, s.max_fragment_size);
        } else if (key == "host_id") {
            error = read_host_id(value, key, s.host_id);
        } else if (key == "host_id_fallback_timeout_s") {
            std::uint64_t seconds = 0;
            error = read_seconds(value, key, 0, seconds);
            if (!error) s.host_id_fallback_timeout_s = seconds;
        } else if (key == "fsync") {
            error = read_fsync(value, key, s.fsync);
        } else if (key == "public_base_url") {
            if (!value.is_string()) return type_error(key, "a URL string such as \"https://bits.example.org\"", value);
            if (auto why = read_public_base_url(value.get<std::string>(), s.public_base_url)) {
                return error_at(key, *why);
            }
        } else if (key == "uploads") {
            error = read_uploads(value, key, s.uploads);
        } else if (key == "read_timeout_s") {
            error = read_seconds(value, key, 1, s.read_timeout_s);
        } else if (key == "idle_timeout_s") {
            error = read_seconds(value, key, 1, s.idle_timeout_s);
        } else if (key == "min_body_rate_bytes_per_s") {
            error = read_uint(value, key, 0, UINT64_MAX, s.min_body_rate_bytes_per_s);
        } else if (key == "busy_timeout_s") {
            error = read_seconds(value, key, 1, s.busy_timeout_s);
        } else if (key == "blocking_threads") {
            error = read_threads(value, key, s.blocking_threads, 1);
        } else if (key == "cleanup_interval_s") {
            error = read_seconds(value, key, 1, s.cleanup_interval_s);
        } else if (key == "shutdown_timeout_s") {
            error = read_uint(value, key, 0, max_shutdown_timeout_s, s.shutdown_timeout_s);
        } else if (key == "threads") {
            error = read_threads(value, key, s.threads);
        } else if (key == "log_level") {
            error = read_log_level(value, key, s.level);
        } else if (key == "limits") {
            error = read_limits(value, key, s.limits);
        } else {
            bool known = false;
            error = read_operations_key(key, value, s, known);
            if (!known) return config_error{"unknown key " + json_quoted(key)};
        }
        if (error) return error;
    }
    if (s.host_id_fallback_timeout_s && !s.host_id) {
        return config_error{"host_id_fallback_timeout_s: only valid together with host_id"};
    }
    return std::nullopt;
}

// "[json.exception.parse_error.101] parse error at line 2, column 4: ..." -> "parse error at
// line 2, column 4: ...": the tag means nothing to the person editing the file. The parser
// quotes what it last read, which may be a broken UTF-8 byte or a control character: those
// become '?' so the message stays one printable line.
std::string parser_message(const char* what) {
    std::string_view text = what;
    if (!text.empty() && text.front() == '[') {
        const auto end = text.find("] ");
        if (end != std::string_view::npos) text.remove_prefix(end + 2);
    }
    std::string message(text);
    for (char& c : message) {
        if (c < 0x20 || c > 0x7e) c = '?';
    }
    return message;
}

}  // namespace

std::optional<std::string> read_public_base_url(const std::string& text, std::string& out) {
    std::string scheme;
    std::string authority;
    if (!protocol::parse_public_base_url(text, scheme, authority)) {
        return "must be an http:// or https:// URL of a host with an optional port, without "
               "userinfo, path, query or fragment (e.g. \"https://bits.example.org\"), got " +
               json_quoted(text);
    }
    out = scheme + "://" + authority;
    return std::nullopt;
}

std::optional<config_error> check_public_base_url(const settings& s) {
    if (!s.public_base_url.empty()) return std::nullopt;
    for (std::size_t i = 0; i < s.uploads.size(); ++i) {
        const auto& n = s.uploads[i].notification;
        if (n.type == notification_type::none || protocol::is_absolute_reference(n.url)) continue;
        return config_error{"uploads[" + std::to_string(i) + "].notification.url: the relative URL " +
                            json_quoted(n.url) +
                            " needs public_base_url to resolve against (it is never resolved against "
                            "the Host a client sends); set public_base_url or write the URL absolute"};
    }
    return std::nullopt;
}

std::optional<config_error> read_json_settings(const std::string& json_text, settings& out) {
    try {
        duplicate_key_detector detector;
        const json doc = json::parse(json_text, std::ref(detector));
        if (detector.first_duplicate()) return config_error{*detector.first_duplicate()};
        settings result = out;
        if (auto error = read_document(doc, result)) return error;
        out = std::move(result);
        return std::nullopt;
    } catch (const json::exception& e) {
        return config_error{"invalid JSON: " + parser_message(e.what())};
    } catch (const std::exception& e) {
        return config_error{std::string("cannot read the configuration: ") + e.what()};
    }
}

}  // namespace bitsd::config
