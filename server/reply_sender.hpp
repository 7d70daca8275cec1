#pragma once
// Writes a reply_plan on a connection: the head, then the byte range streamed from the file in
// 64 KiB pieces (one buffer per reply being sent, never the whole reply). The connection gives
// the writer: it sets each write's deadline (its read_timeout, so a client that stops reading
// is let go) and writes on its plain or TLS stream.

#include "server/reply_server.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <functional>

namespace bitsd::server {

using reply_write_done = std::function<void(boost::system::error_code)>;
// Writes the whole buffer, then calls done (on the connection's context).
using reply_writer = std::function<void(boost::asio::const_buffer, reply_write_done)>;

// `done(true)` once everything was written; `done(false)` on a write or file failure (the
// connection must close: the head promised bytes it did not get). Runs on the stream's context.
void send_reply(reply_writer write, reply_plan plan, std::function<void(bool)> done);

}  // namespace bitsd::server
