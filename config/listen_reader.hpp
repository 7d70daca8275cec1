#pragma once
// The "listen" key of a config file: an array whose entries are "HOST:PORT" strings (plain
// HTTP) or objects {"address": "HOST:PORT", "tls": {"cert": PATH, "key": PATH}} (issue 9).
// Only the file has the object form: BITSD_LISTEN and --listen take strings.

#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bitsd::config {

// Reads `value` (at `path`, "listen") into `out`; one error naming the entry's key
// ("listen[1].tls.cert: is required") otherwise, and `out` is left as it was.
std::optional<config_error> read_listen(const nlohmann::json& value, const std::string& path,
                                        std::vector<listen_endpoint>& out);

// A Basic prefix sends passwords: without allow_basic_without_tls it needs a TLS listener to
// be served at all (on a plain listener its requests are refused). Checked once every source
// (file, environment, flags) has spoken, since --listen may replace the file's listeners.
std::optional<config_error> check_basic_needs_tls(const settings& s);

}  // namespace bitsd::config
