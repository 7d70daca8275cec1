#pragma once
// Formats the head of an Ack (status line, headers, Content-Length: 0, Connection) into one
// contiguous buffer, written with a single send. Every Ack has an empty body, so Beast's general
// serializer (buffer sequences over a field list, a state machine per write) buys nothing here
// and cost about a tenth of the CPU per Ping.

#include "protocol/engine.hpp"

#include <string>

namespace bitsd::server {

// Replaces `out` with the response head. `version` is 10 or 11; `keep_alive` says whether the
// connection stays open (HTTP/1.0 then says "Connection: keep-alive", HTTP/1.1 says
// "Connection: close" when it does not). The bytes are what Beast's serializer writes for the
// same response (tests compare them).
void format_response_head(std::string& out, unsigned version, const protocol::response& response,
                          bool keep_alive);

}  // namespace bitsd::server
