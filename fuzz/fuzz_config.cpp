// The config loader: parse_json on arbitrary text must answer with settings or one error, never
// throw or crash. Accepted settings satisfy what the rest of bitsd relies on: among them, that
// protocol::route (which compares prefixes with decoded segments as written) reaches every
// accepted prefix.

#include "fuzz_check.hpp"

#include "config/config.hpp"
#include "protocol/upload_path.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace bitsd::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    settings out;
    std::optional<config_error> error;
    try {
        error = parse_json(text, out);
    } catch (...) {
        FUZZ_CHECK(!"parse_json threw");
    }
    if (error) {
        FUZZ_CHECK(!error->message.empty());
        return 0;
    }
    FUZZ_CHECK(!out.listen.empty());
    FUZZ_CHECK(!out.uploads.empty());
    std::vector<std::string> prefixes;
    for (const auto& upload : out.uploads) {
        FUZZ_CHECK(!upload.url_prefix.empty());
        FUZZ_CHECK(upload.url_prefix.front() == '/' && upload.url_prefix.back() == '/');
        prefixes.push_back(upload.url_prefix);
    }
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        const auto routed = bitsd::protocol::route("BITS_POST", prefixes[i] + "name", prefixes);
        FUZZ_CHECK(!routed.error);
        FUZZ_CHECK(routed.location.prefix_index == i);
        FUZZ_CHECK(routed.location.segments == std::vector<std::string>{"name"});
    }
    if (out.host_id_fallback_timeout_s) FUZZ_CHECK(out.host_id.has_value());
    return 0;
}
