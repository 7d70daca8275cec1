#pragma once
// Which upload prefix a request-target belongs to, and the file it names under that prefix's
// destination directory. Pure string work: the result is a list of safe path segments that can
// never escape the destination (no "..", no absolute paths, no backslashes, no NUL).

#include "protocol/bits_error.hpp"

#include <string>
#include <string_view>
#include <optional>
#include <vector>

namespace bitsd::protocol {

// The longest file or directory name accepted in a URL, in bytes after percent-decoding.
inline constexpr std::size_t max_segment_length = 255;

struct upload_location {
    std::size_t prefix_index = 0;        // index into the prefixes given to route()
    std::string path;                    // request path without the query, as sent
    std::vector<std::string> segments;   // decoded, validated segments under the prefix
    std::string query;                   // "?..." as sent, or empty: path + query is the target
};

struct route_result {
    std::error_code error;  // upload_url_not_found (BITS_POST) or not_found (other methods),
                            // method_not_allowed, bad_destination_path,
                            // destination_is_directory; empty on success
    upload_location location;
};

// Matches `target` (origin-form, may carry a query) against `prefixes` (each starting and
// ending with '/'). The path is split on '/' and each segment percent-decoded once; a prefix
// matches when its segments equal the leading decoded segments and a name follows, and the
// prefix with the most segments wins. Only `method` BITS_POST is accepted on a prefix.
route_result route(std::string_view method, std::string_view target,
                   const std::vector<std::string>& prefixes);

// Percent-decodes once. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace bitsd::protocol
