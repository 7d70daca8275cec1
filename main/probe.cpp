#include "main/probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <iostream>

namespace bitsd::cli {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::chrono::seconds probe_timeout{5};

struct probe_target {
    std::string host;  // without IPv6 brackets
    std::string port = "80";
    std::string target = "/";
    std::string host_header;
};

// http://HOST[:PORT][/PATH]: all a probe needs (https and credentials have no place here).
std::optional<probe_target> parse_probe_url(const std::string& url, std::string& why) {
    const std::string scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) {
        why = "must start with http://";
        return std::nullopt;
    }
    const auto slash = url.find('/', scheme.size());
    const std::string authority = url.substr(scheme.size(), slash - scheme.size());
    probe_target t;
    if (slash != std::string::npos) t.target = url.substr(slash);
    t.host_header = authority;
    std::string::size_type port_colon = std::string::npos;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string::npos) {
            why = "unclosed '[' in the host";
            return std::nullopt;
        }
        t.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                why = "expected ':' after ']'";
                return std::nullopt;
            }
            port_colon = close + 1;
        }
    } else {
        port_colon = authority.find(':');
        t.host = authority.substr(0, port_colon);
    }
    if (port_colon != std::string::npos) t.port = authority.substr(port_colon + 1);
    if (t.host.empty() || authority.find('@') != std::string::npos || t.port.empty() ||
        t.port.find_first_not_of("0123456789") != std::string::npos) {
        why = "expected http://HOST[:PORT][/PATH]";
        return std::nullopt;
    }
    return t;
}

std::string own_url(const config::settings& s) {
    const auto& endpoint = s.listen.front();
    std::string host = endpoint.host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    // A Ping names a file under the prefix (a URL ending in / names a directory: 400); a Ping
    // creates nothing.
    return "http://" + host + ":" + std::to_string(endpoint.port) + s.uploads.front().url_prefix +
           "bitsd-probe";
}

}  // namespace

int run_probe(const config::settings& s, const std::optional<std::string>& url) {
    const bool ping = !url;
    const std::string text = url ? *url : own_url(s);
    std::string why;
    const auto parsed = parse_probe_url(text, why);
    if (!parsed) {
        std::cerr << "bitsd --probe: " << text << ": " << why << "\n";
        return 1;
    }
    const auto& target = *parsed;

    net::io_context context;
    beast::tcp_stream stream(context);
    beast::flat_buffer buffer;
    http::request<http::empty_body> request{ping ? http::verb::unknown : http::verb::get,
                                            target.target, 11};
    if (ping) {
        request.method_string("BITS_POST");
        request.set("BITS-Packet-Type", "Ping");
        request.content_length(0);
    }
    request.set(http::field::host, target.host_header);
    request.set(http::field::user_agent, "bitsd-probe");
    request.set(http::field::connection, "close");
    http::response<http::string_body> response;
    beast::error_code failure;
    const char* stage = "resolve";

    // Every step is asynchronous under one deadline: a daemon that accepts but never answers
    // must fail the probe, not hang it.
    net::ip::tcp::resolver resolver(context);
    stream.expires_after(probe_timeout);
    resolver.async_resolve(target.host, target.port,
        [&](beast::error_code ec, net::ip::tcp::resolver::results_type results) {
            if (ec) { failure = ec; return; }
            stage = "connect";
            stream.async_connect(results, [&](beast::error_code ec, const auto&) {
                if (ec) { failure = ec; return; }
                stage = "send";
                http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
                    if (ec) { failure = ec; return; }
                    stage = "read the answer";
                    http::async_read(stream, buffer, response, [&](beast::error_code ec, std::size_t) {
                        if (ec) failure = ec;
                    });
                });
            });
        });
    context.run_for(probe_timeout + std::chrono::seconds(1));
    if (!context.stopped()) failure = beast::error::timeout;

    if (failure) {
        std::cerr << "bitsd --probe " << text << ": cannot " << stage << ": " << failure.message()
                  << "\n";
        return 1;
    }
    const unsigned status = response.result_int();
    if (status < 200 || status > 299) {
        std::cerr << "bitsd --probe " << text << ": HTTP " << status << "\n";
        return 1;
    }
    return 0;
}

}  // namespace bitsd::cli
