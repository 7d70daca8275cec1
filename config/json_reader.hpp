#pragma once
// Reading a config document into settings, key by key. Shared by parse_json and the command
// line, which must apply its flags between reading the file and applying the defaults that
// depend on other values (--data-dir moves the default upload destination).

#include "config/config.hpp"

#include <optional>
#include <string>

namespace bitsd::config {

// Parses and validates `json_text` into `out`, overwriting only the keys the document has.
// Applies no defaults: from a fresh settings, `listen` and `uploads` stay empty when the
// document lacks them, which is how the caller knows apply_defaults will fill them (an
// explicitly empty array is an error here). On error `out` is unchanged.
std::optional<config_error> read_json_settings(const std::string& json_text, settings& out);

// public_base_url (from the file or BITSD_PUBLIC_BASE_URL): the reason it is unusable, or
// nullopt and `out` set to "scheme://host[:port]" (a final '/' dropped).
std::optional<std::string> read_public_base_url(const std::string& text, std::string& out);

// A relative notification URL without public_base_url: the error naming the upload's key.
// Called once file, environment and flags are applied.
std::optional<config_error> check_public_base_url(const settings& s);

}  // namespace bitsd::config
