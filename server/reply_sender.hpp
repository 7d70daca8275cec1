#pragma once
// Writes a reply_plan on a connection: the head, then the byte range streamed from the file in
// 64 KiB pieces (one buffer per reply being sent, never the whole reply). Each write has the
// connection's read_timeout as its deadline, so a client that stops reading is let go.

#include "server/http_connection.hpp"
#include "server/reply_server.hpp"

#include <chrono>
#include <functional>

namespace bitsd::server {

// `done(true)` once everything was written; `done(false)` on a write or file failure (the
// connection must close: the head promised bytes it did not get). Runs on the stream's context.
void send_reply(http_connection::stream_type& stream, reply_plan plan, std::chrono::seconds write_timeout,
                std::function<void(bool)> done);

}  // namespace bitsd::server
