#pragma once
// The OpenSSL server contexts of the TLS listeners (issue 9). One context per TLS listener,
// built from its certificate chain and key (PEM), TLS 1.2 and 1.3 only. A SIGHUP builds new
// ones from the files (which may have new content at the same paths, or new paths) and swaps
// them in: new handshakes use the new context, established connections keep theirs (each
// connection holds a reference to the context it was accepted with). A file that does not
// load refuses the reload and the running contexts stay.
//
// Lean on purpose: no OpenSSL or Asio ssl header here (server/tls/*.cpp include them). A build
// without TLS (BITSD_TLS=OFF) compiles server/tls/tls_disabled.cpp instead.

#include "config/config.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace bitsd::server {

using tls_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

// A server context for `files`, or null with `error` naming the key at fault:
// "listen[1].tls.key: \"/etc/bitsd/key.pem\" does not match the certificate ...".
// `key_path` is the entry's "tls" key ("listen[1].tls").
tls_context_ptr make_tls_context(const config::tls_files& files, const std::string& key_path,
                                 std::string& error);

// --check-config and start-up: every TLS listener's files load and match; the first error.
std::optional<std::string> check_tls_files(const std::vector<config::listen_endpoint>& listen);

// The context a TLS listener hands to the connections it accepts; swapped on reload.
class tls_context_slot {
public:
    explicit tls_context_slot(tls_context_ptr context) : context_(std::move(context)) {}
    tls_context_ptr current() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return context_;
    }
    void replace(tls_context_ptr context) {
        std::lock_guard<std::mutex> lock(mutex_);
        context_.swap(context);
    }  // the old context is released here, outside no lock that matters (connections hold theirs)

private:
    mutable std::mutex mutex_;  // once per accepted TLS connection: never on a request's path
    tls_context_ptr context_;
};

// The slots of a daemon's listeners, by their index in `listen`.
class tls_listeners {
public:
    // Builds the context of every TLS listener; throws std::runtime_error naming the key
    // (start-up only).
    explicit tls_listeners(const std::vector<config::listen_endpoint>& listen);

    // Null for a plain listener.
    std::shared_ptr<tls_context_slot> slot(std::size_t index) const;

    // A reload: new contexts for `next_listen` (the running listeners: a reload never changes
    // them, only their files). nullopt once they are ready; else the first error, and nothing
    // is prepared. commit() puts what prepare() built in force.
    std::optional<std::string> prepare(const std::vector<config::listen_endpoint>& next_listen);
    void commit();

private:
    std::vector<std::shared_ptr<tls_context_slot>> slots_;
    std::vector<tls_context_ptr> prepared_;
};

}  // namespace bitsd::server
