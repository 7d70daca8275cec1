#include "server/tls/tls_channel.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

namespace bitsd::server {

struct tls_channel::impl {
    impl(http_connection::stream_type& stream, tls_context_ptr ctx)
        : context(std::move(ctx)), ssl(stream, *context) {}
    tls_context_ptr context;  // the listener may swap its context: this connection keeps its own
    boost::asio::ssl::stream<http_connection::stream_type&> ssl;
};

tls_channel::tls_channel(http_connection::stream_type& stream, tls_context_ptr context)
    : impl_(std::make_unique<impl>(stream, std::move(context))) {}

tls_channel::~tls_channel() = default;

void tls_channel::async_handshake(done_handler done) {
    impl_->ssl.async_handshake(boost::asio::ssl::stream_base::server, std::move(done));
}

void tls_channel::async_read_some(boost::asio::mutable_buffer buffer, io_handler done) {
    impl_->ssl.async_read_some(buffer, std::move(done));
}

void tls_channel::async_write(boost::asio::const_buffer buffer, io_handler done) {
    boost::asio::async_write(impl_->ssl, buffer, std::move(done));
}

}  // namespace bitsd::server
