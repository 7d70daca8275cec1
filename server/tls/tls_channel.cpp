#include "server/tls/tls_channel.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace bitsd::server {
namespace {

namespace net = boost::asio;
using error_code = boost::system::error_code;

// The most a read from the socket takes at once: one TLS record and its header.
constexpr std::size_t input_size = 17 * 1024;

}  // namespace

// OpenSSL over a BIO of our own instead of Asio's ssl::stream: Asio keeps two 17 KiB record
// buffers per stream and OpenSSL's BIO pair two more (about 70 KiB per idle connection). Here
// bytes from the socket are held only until OpenSSL has taken them, and bytes OpenSSL writes
// only until they are sent: an idle connection holds the SSL object alone (its own record
// buffers are released with SSL_MODE_RELEASE_BUFFERS). Every socket wait goes through the
// connection's beast::basic_stream, so its deadlines bound the handshake, reads and writes as
// before. An idle read waits for one byte, then takes what else has arrived without waiting.
struct tls_channel::impl {
    impl(http_connection::stream_type& s, tls_context_ptr ctx) : stream(s), context(std::move(ctx)) {
        ssl = SSL_new(context->native_handle());
        BIO* bio = ssl != nullptr ? BIO_new(bio_method()) : nullptr;
        if (bio == nullptr) {
            if (ssl != nullptr) SSL_free(ssl);
            throw std::runtime_error("TLS: cannot make a connection's OpenSSL state");
        }
        BIO_set_data(bio, this);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl, bio, bio);
        SSL_set_accept_state(ssl);
    }
    ~impl() { SSL_free(ssl); }

    // One OpenSSL call (handshake, read, write) until it succeeds or fails, sending what it
    // wrote and reading what it wants in between. `call` returns SSL_*'s result and sets n.
    using ssl_call = std::function<int(std::size_t& n)>;
    void drive(ssl_call call, io_handler done, bool waited = false) {
        ERR_clear_error();
        std::size_t n = 0;
        const int ret = call(n);
        const int err = ret > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
        error_code failure;
        if (err == SSL_ERROR_ZERO_RETURN) {
            failure = net::error::eof;
        } else if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL) {
            const unsigned long code = ERR_get_error();
            failure = code != 0 ? error_code(static_cast<int>(code), net::error::get_ssl_category())
                                : error_code(net::ssl::error::stream_truncated);
        } else if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            failure = net::ssl::error::unexpected_result;
        }
        auto next = [this, call = std::move(call), done = std::move(done), err, n, failure](error_code ec,
                                                                                            bool waited_now) mutable {
            if (ec || failure) return finish(std::move(done), ec ? ec : failure, 0, waited_now);
            if (err == SSL_ERROR_NONE) return finish(std::move(done), {}, n, waited_now);
            if (err == SSL_ERROR_WANT_WRITE) return drive(std::move(call), std::move(done), waited_now);
            fill([this, call = std::move(call), done = std::move(done)](error_code fill_ec) mutable {
                if (fill_ec) return finish(std::move(done), fill_ec, 0, true);
                drive(std::move(call), std::move(done), true);
            });
        };
        if (output.empty()) return next({}, waited);
        flush([next = std::move(next)](error_code ec) mutable { next(ec, true); });
    }

    // Completes an operation; never from inside its initiating call (Asio's rule).
    void finish(io_handler done, error_code ec, std::size_t n, bool waited) {
        if (input_pos == input_len) input.reset();  // drained: an idle connection holds no input
        if (waited) return done(ec, n);
        net::post(stream.get_executor(), [done = std::move(done), ec, n] { done(ec, n); });
    }

    void flush(std::function<void(error_code)> then) {
        net::async_write(stream, net::buffer(output), [this, then = std::move(then)](error_code ec, std::size_t) {
            output.clear();
            output.shrink_to_fit();
            then(ec);
        });
    }

    // Waits for a byte from the socket (under the stream's deadline), then takes what else
    // has arrived without waiting, into a buffer of that size (at most a record): a handshake
    // or a header that stalls halfway holds only the bytes that came. Bytes OpenSSL has not
    // taken yet stay in front of the new ones: it normally asks for more only once it took
    // everything, but not always (without SSL_MODE_AUTO_RETRY, after a post-handshake
    // message such as a KeyUpdate), and a record's bytes must never be dropped.
    void fill(std::function<void(error_code)> then) {
        stream.async_read_some(net::buffer(&first, 1), [this, then = std::move(then)](error_code ec, std::size_t n) {
            if (ec) return then(ec);
            const std::size_t left = input_len - input_pos;
            error_code available_ec;
            const std::size_t available =
                std::min<std::size_t>(stream.socket().available(available_ec), input_size - 1);
            std::unique_ptr<unsigned char[]> next(new unsigned char[left + 1 + available]);
            if (left > 0) std::memcpy(next.get(), input.get() + input_pos, left);
            next[left] = first;
            std::size_t length = left + n;
            if (available > 0) {
                error_code more_ec;
                const std::size_t more = stream.socket().read_some(net::buffer(next.get() + length, available), more_ec);
                if (!more_ec) length += more;
            }
            input = std::move(next);
            input_pos = 0;
            input_len = length;
            then({});
        });
    }

    static int bio_read(BIO* bio, char* out, int size) {
        auto* self = static_cast<impl*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        const std::size_t left = self->input_len - self->input_pos;
        if (left == 0) {
            BIO_set_retry_read(bio);
            return -1;
        }
        const std::size_t n = std::min<std::size_t>(left, static_cast<std::size_t>(size));
        std::memcpy(out, self->input.get() + self->input_pos, n);
        self->input_pos += n;
        return static_cast<int>(n);
    }

    static int bio_write(BIO* bio, const char* in, int size) {
        auto* self = static_cast<impl*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        self->output.insert(self->output.end(), in, in + size);
        return size;
    }

    static long bio_ctrl(BIO* bio, int command, long, void*) {
        auto* self = static_cast<impl*>(BIO_get_data(bio));
        switch (command) {
        case BIO_CTRL_FLUSH:
            return 1;
        case BIO_CTRL_PENDING:
            return static_cast<long>(self->input_len - self->input_pos);
        case BIO_CTRL_WPENDING:
            return static_cast<long>(self->output.size());
        default:
            return 0;
        }
    }

    static BIO_METHOD* bio_method() {
        static BIO_METHOD* method = [] {
            BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bitsd connection");
            BIO_meth_set_write(m, &bio_write);
            BIO_meth_set_read(m, &bio_read);
            BIO_meth_set_ctrl(m, &bio_ctrl);
            return m;
        }();
        return method;
    }

    http_connection::stream_type& stream;
    tls_context_ptr context;  // the listener may swap its context: this connection keeps its own
    SSL* ssl = nullptr;
    unsigned char first = 0;
    std::unique_ptr<unsigned char[]> input;  // from the socket, not yet taken by OpenSSL
    std::size_t input_pos = 0;
    std::size_t input_len = 0;
    std::vector<unsigned char> output;  // written by OpenSSL, not yet sent
};

tls_channel::tls_channel(http_connection::stream_type& stream, tls_context_ptr context)
    : impl_(std::make_unique<impl>(stream, std::move(context))) {}

tls_channel::~tls_channel() = default;

void tls_channel::async_handshake(done_handler done) {
    impl_->drive([ssl = impl_->ssl](std::size_t&) { return SSL_do_handshake(ssl); },
                 [done = std::move(done)](boost::system::error_code ec, std::size_t) { done(ec); });
}

void tls_channel::async_read_some(boost::asio::mutable_buffer buffer, io_handler done) {
    if (buffer.size() == 0) {  // as on a plain stream: nothing to read completes at once
        return boost::asio::post(impl_->stream.get_executor(), [done = std::move(done)] { done({}, 0); });
    }
    impl_->drive([ssl = impl_->ssl, buffer](std::size_t& n) { return SSL_read_ex(ssl, buffer.data(), buffer.size(), &n); },
                 std::move(done));
}

void tls_channel::async_write(boost::asio::const_buffer buffer, io_handler done) {
    if (buffer.size() == 0) {
        return boost::asio::post(impl_->stream.get_executor(), [done = std::move(done)] { done({}, 0); });
    }
    impl_->drive([ssl = impl_->ssl, buffer](std::size_t& n) { return SSL_write_ex(ssl, buffer.data(), buffer.size(), &n); },
                 std::move(done));
}

}  // namespace bitsd::server
