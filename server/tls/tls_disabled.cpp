// A build without TLS (cmake -DBITSD_TLS=OFF, e.g. the Windows cross build, which has no
// OpenSSL): the configuration refuses a "tls" listener (config/listen_reader.cpp), so none of
// this is ever reached with a TLS listener; it only satisfies the linker.

#include "server/tls/tls_channel.hpp"
#include "server/tls/tls_context.hpp"

#include <stdexcept>

namespace bitsd::server {

tls_context_ptr make_tls_context(const config::tls_files&, const std::string& key_path, std::string& error) {
    error = key_path + ": this bitsd was built without TLS support";
    return nullptr;
}

std::optional<std::string> check_tls_files(const std::vector<config::listen_endpoint>& listen) {
    for (std::size_t i = 0; i < listen.size(); ++i) {
        if (listen[i].tls) return "listen[" + std::to_string(i) + "].tls: this bitsd was built without TLS support";
    }
    return std::nullopt;
}

tls_listeners::tls_listeners(const std::vector<config::listen_endpoint>& listen) {
    if (auto error = check_tls_files(listen)) throw std::runtime_error(*error);
    slots_.resize(listen.size());
}

std::shared_ptr<tls_context_slot> tls_listeners::slot(std::size_t) const { return nullptr; }
std::optional<std::string> tls_listeners::prepare(const std::vector<config::listen_endpoint>&) { return std::nullopt; }
void tls_listeners::commit() {}

struct tls_channel::impl {};
tls_channel::tls_channel(http_connection::stream_type&, tls_context_ptr) {
    throw std::logic_error("TLS connection in a build without TLS");
}
tls_channel::~tls_channel() = default;
void tls_channel::async_handshake(done_handler) {}
void tls_channel::async_read_some(boost::asio::mutable_buffer, io_handler) {}
void tls_channel::async_write(boost::asio::const_buffer, io_handler) {}

}  // namespace bitsd::server
