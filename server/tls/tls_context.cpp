#include "server/tls/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace bitsd::server {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only (AES-GCM, ChaCha20-Poly1305), as
// Mozilla's "intermediate" profile without the DHE ones. TLS 1.3 keeps OpenSSL's defaults
// (all AEAD).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for the last failure, and the queue emptied (it is per thread).
std::string openssl_reason() {
    std::string reason;
    unsigned long code = 0;
    while (const unsigned long next = ERR_get_error()) code = next;  // the last is the closest
    if (code != 0) {
        const char* text = ERR_reason_error_string(code);
        reason = text != nullptr ? text : "error " + std::to_string(code);
    }
    return reason.empty() ? "unusable" : reason;
}

// A file OpenSSL cannot open says little ("system lib"): look first, to say what errno says.
std::optional<std::string> unreadable(const std::filesystem::path& path) {
    errno = 0;
    std::ifstream file(path, std::ios::binary);
    if (file) return std::nullopt;
    return "cannot read \"" + path.u8string() + "\": " + (errno != 0 ? std::strerror(errno) : "cannot open");
}

// Never prompt for a pass phrase (a daemon has no terminal): an encrypted key just fails.
int no_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

tls_context_ptr make_tls_context(const config::tls_files& files, const std::string& key_path,
                                 std::string& error) {
    const std::string cert_key = key_path + ".cert";
    const std::string key_key = key_path + ".key";
    const auto fail = [&error](std::string why) -> tls_context_ptr {
        error = std::move(why);
        return nullptr;
    };
    if (auto why = unreadable(files.cert)) return fail(cert_key + ": " + *why);
    if (auto why = unreadable(files.key)) return fail(key_key + ": " + *why);
    ERR_clear_error();
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* handle = context->native_handle();
    SSL_CTX_set_min_proto_version(handle, TLS1_2_VERSION);
    SSL_CTX_set_options(handle, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
    // An idle keep-alive connection gives its read and write buffers back (about 34 KiB).
    SSL_CTX_set_mode(handle, SSL_MODE_RELEASE_BUFFERS);
    // Resumption by ticket only (stateless: TLS 1.3, and TLS 1.2 clients that support
    // tickets): a server-side cache would keep every TLS 1.2 session, up to 20,480 of about a
    // KiB each, whether or not its client ever comes back.
    SSL_CTX_set_session_cache_mode(handle, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(handle, &no_passphrase);
    if (SSL_CTX_set_cipher_list(handle, tls12_ciphers) != 1) {
        return fail(key_path + ": cannot set the TLS 1.2 ciphers: " + openssl_reason());
    }
    if (SSL_CTX_use_certificate_chain_file(handle, files.cert.c_str()) != 1) {
        return fail(cert_key + ": \"" + files.cert.u8string() + "\" is not a usable PEM certificate chain: " +
                       openssl_reason());
    }
    // OpenSSL compares the key with the certificate as it loads it: a mismatch shows here.
    const bool key_loaded = SSL_CTX_use_PrivateKey_file(handle, files.key.c_str(), SSL_FILETYPE_PEM) == 1;
    const bool mismatch = !key_loaded && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    if (!key_loaded && !mismatch) {
        return fail(key_key + ": \"" + files.key.u8string() +
                    "\" is not a usable PEM private key (unencrypted): " + openssl_reason());
    }
    if (mismatch || SSL_CTX_check_private_key(handle) != 1) {
        return fail(key_key + ": \"" + files.key.u8string() + "\" does not match the certificate in " +
                       cert_key + " (\"" + files.cert.u8string() + "\"): " + openssl_reason());
    }
    return context;
}

std::optional<std::string> check_tls_files(const std::vector<config::listen_endpoint>& listen) {
    for (std::size_t i = 0; i < listen.size(); ++i) {
        if (!listen[i].tls) continue;
        std::string error;
        if (!make_tls_context(*listen[i].tls, "listen[" + std::to_string(i) + "].tls", error)) return error;
    }
    return std::nullopt;
}

tls_listeners::tls_listeners(const std::vector<config::listen_endpoint>& listen) {
    for (std::size_t i = 0; i < listen.size(); ++i) {
        if (!listen[i].tls) {
            slots_.push_back(nullptr);
            continue;
        }
        std::string error;
        auto context = make_tls_context(*listen[i].tls, "listen[" + std::to_string(i) + "].tls", error);
        if (!context) throw std::runtime_error(error);
        slots_.push_back(std::make_shared<tls_context_slot>(std::move(context)));
    }
}

std::shared_ptr<tls_context_slot> tls_listeners::slot(std::size_t index) const {
    return index < slots_.size() ? slots_[index] : nullptr;
}

std::optional<std::string> tls_listeners::prepare(const std::vector<config::listen_endpoint>& next_listen) {
    prepared_.clear();
    std::vector<tls_context_ptr> built(slots_.size());
    for (std::size_t i = 0; i < slots_.size() && i < next_listen.size(); ++i) {
        if (!slots_[i] || !next_listen[i].tls) continue;
        std::string error;
        built[i] = make_tls_context(*next_listen[i].tls, "listen[" + std::to_string(i) + "].tls", error);
        if (!built[i]) return error;
    }
    prepared_ = std::move(built);
    return std::nullopt;
}

void tls_listeners::commit() {
    std::size_t swapped = 0;
    for (std::size_t i = 0; i < prepared_.size(); ++i) {
        if (!prepared_[i]) continue;
        slots_[i]->replace(std::move(prepared_[i]));
        ++swapped;
    }
    prepared_.clear();
    if (swapped > 0) spdlog::info("reload: TLS certificates and keys read again ({} listeners)", swapped);
}

}  // namespace bitsd::server
