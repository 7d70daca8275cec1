// Path mapping: protocol::route with a few prefixes (nested ones and the root). The first
// input line is the method, the rest the request-target. Every accepted location must name a
// file strictly inside its prefix's destination: plain names only (no "..", ".", empty, '/',
// '\\', NUL), and joining them under a directory never leaves it.

#include "fuzz_check.hpp"

#include "protocol/upload_path.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

using namespace bitsd::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view method = "BITS_POST";
    if (const auto newline = input.find('\n'); newline != std::string_view::npos) {
        method = input.substr(0, newline);
        input.remove_prefix(newline + 1);
    }
    const std::string_view target = input;

    static const std::vector<std::string> prefixes{"/uploads/", "/uploads/private/", "/a/b/c/", "/"};
    const auto result = route(method, target, prefixes);
    if (result.error) {
        FUZZ_CHECK(result.location.segments.empty());
        return 0;
    }

    FUZZ_CHECK(method == "BITS_POST");
    const auto& location = result.location;
    FUZZ_CHECK(location.prefix_index < prefixes.size());
    FUZZ_CHECK(!location.segments.empty());
    // The path is the target without its query (or a fragment, which clients should not send).
    FUZZ_CHECK(location.path == target.substr(0, target.find_first_of("?#")));
    FUZZ_CHECK(location.path.compare(0, prefixes[location.prefix_index].size(),
                                     prefixes[location.prefix_index]) == 0 ||
               location.path.find('%') != std::string::npos);

    const std::filesystem::path base = "/srv/destination";
    std::filesystem::path file = base;
    for (const auto& segment : location.segments) {
        FUZZ_CHECK(!segment.empty());
        FUZZ_CHECK(segment != "." && segment != "..");
        FUZZ_CHECK(segment.size() <= max_segment_length);
        FUZZ_CHECK(segment.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos);
        file /= segment;
    }
    // Never escapes: lexically the joined path stays strictly under the base.
    const auto normal = file.lexically_normal();
    const auto relative = normal.lexically_relative(base);
    FUZZ_CHECK(!relative.empty());
    FUZZ_CHECK(*relative.begin() != "..");
    FUZZ_CHECK(relative.is_relative());
    FUZZ_CHECK(std::distance(relative.begin(), relative.end()) ==
               static_cast<std::ptrdiff_t>(location.segments.size()));
    return 0;
}
