#pragma once
// A list of listen endpoints as written in the config file or given by repeated --listen flags:
// each entry parsed by parse_listen, and no endpoint twice (the second bind would fail anyway,
// but with a message that no longer says which entry was at fault).

#include "config/config.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bitsd::config {

struct listen_list_error {
    std::size_t index = 0;  // which entry of the list is at fault
    std::string why;        // the reason, without the entry's name
    std::optional<std::size_t> duplicate_of;  // set when the entry repeats an earlier one
};

// Parses every text into `out` (replacing its content only on success).
std::optional<listen_list_error> parse_listen_list(const std::vector<std::string>& texts,
                                                   std::vector<listen_endpoint>& out);

}  // namespace bitsd::config
