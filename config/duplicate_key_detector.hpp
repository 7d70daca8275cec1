#pragma once
// nlohmann::json keeps the last of two equal keys in an object without a word, so a config
// saying "threads" twice would silently run on the second value. This watches the parser's
// events and remembers the first key that an object repeats, with the path of that object.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bitsd::config {

class duplicate_key_detector {
public:
    // A parser callback (nlohmann::json::parser_callback_t); always keeps the value.
    bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed);

    // "uploads[0]: duplicate key \"url_prefix\"" (no path for the top level), if any.
    const std::optional<std::string>& first_duplicate() const noexcept { return duplicate_; }

private:
    struct frame {
        bool is_object = false;
        std::string path;             // "uploads[0]"; empty for the document itself
        std::set<std::string> keys;   // keys seen so far in this object
        std::string last_key;         // the key whose value is being read
        std::size_t next_index = 0;   // index of the next element of this array
    };

    std::string child_path();

    std::vector<frame> stack_;
    std::optional<std::string> duplicate_;
};

}  // namespace bitsd::config
