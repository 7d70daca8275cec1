#pragma once
// `bitsd --probe [URL]`: a health probe in the daemon's own binary, so a container image needs
// no curl. One HTTP/1.1 request over loopback (or wherever URL points), 5 s at most:
// - with URL: GET URL;
// - without: a BITS Ping (BITS_POST, BITS-Packet-Type: Ping) to the configuration's first
//   listener (0.0.0.0 and :: become loopback) and first upload prefix, so the probe follows
//   BITSD_LISTEN and the config file without being told the port.
// Exit 0 on a 2xx answer, 1 on anything else (printed on stderr).

#include "config/config.hpp"

#include <optional>
#include <string>

namespace bitsd::cli {

int run_probe(const config::settings& s, const std::optional<std::string>& url);

}  // namespace bitsd::cli
