#pragma once
// The TLS side of one http_connection: OpenSSL over a BIO of our own that reads from and writes
// to the connection's own beast::basic_stream, so the stream's deadlines (expires_after) bound
// the handshake and every TLS read and write as they bound plain ones, and bytes are buffered
// only while in flight (tls_channel.cpp says why not Asio's ssl::stream). Non-template on purpose:
// http_connection stays one class whose plain path is unchanged (a null tls_channel), and the
// Asio ssl templates are compiled here only. Handlers are type-erased (std::function): one
// allocation per TLS operation, which is small beside the cipher work.

#include "server/http_connection.hpp"
#include "server/tls/tls_context.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <functional>
#include <memory>

namespace bitsd::server {

class tls_channel {
public:
    using io_handler = std::function<void(boost::system::error_code, std::size_t)>;
    using done_handler = std::function<void(boost::system::error_code)>;

    // `stream` must outlive the channel (both belong to the connection); `context` is kept.
    tls_channel(http_connection::stream_type& stream, tls_context_ptr context);
    ~tls_channel();

    void async_handshake(done_handler done);
    // At most one read and one write at a time, as on the plain stream.
    void async_read_some(boost::asio::mutable_buffer buffer, io_handler done);
    void async_write(boost::asio::const_buffer buffer, io_handler done);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace bitsd::server
