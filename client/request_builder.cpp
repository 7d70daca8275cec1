#include "client/request_builder.hpp"

#include <boost/beast/core/detail/base64.hpp>

#include <algorithm>
#include <cctype>

namespace bitsd::client {
namespace {

bool same_host(const http_url& a, const http_url& b) {
    if (a.port != b.port || a.host.size() != b.host.size()) return false;
    return std::equal(a.host.begin(), a.host.end(), b.host.begin(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

}  // namespace

std::string format_content_range(std::uint64_t first, std::uint64_t length, std::uint64_t total) {
    return "bytes " + std::to_string(first) + "-" + std::to_string(first + length - 1) + "/" +
           std::to_string(total);
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    std::string plain;
    plain.reserve(user.size() + 1 + password.size());
    plain.append(user).append(":").append(password);
    // Beast's encoder (compiled once in server/asio_beast_src.cpp): no OpenSSL needed for this,
    // so the Windows build has none.
    namespace base64 = boost::beast::detail::base64;
    std::string encoded(base64::encoded_size(plain.size()), '\0');
    encoded.resize(base64::encode(encoded.data(), plain.data(), plain.size()));
    return "Basic " + encoded;
}

std::string content_name_for(std::string_view file_name) {
    if (const auto slash = file_name.find_last_of("/\\"); slash != std::string_view::npos) {
        file_name.remove_prefix(slash + 1);
    }
    std::string name;
    for (const char c : file_name.substr(0, 260)) {
        const auto u = static_cast<unsigned char>(c);
        const bool forbidden = std::string_view("\\/:*?\"<>|").find(c) != std::string_view::npos;
        name += (u < 0x20 || u >= 0x7f || forbidden) ? '_' : c;
    }
    return name.empty() ? "file" : name;
}

request_builder::request_builder(std::string user_agent, std::optional<std::string> authorization,
                                 std::string content_name)
    : user_agent_(std::move(user_agent)),
      authorization_(std::move(authorization)),
      content_name_(std::move(content_name)) {}

outgoing_request request_builder::bits_post(const http_url& url, protocol::packet_kind kind,
                                            std::string_view packet_type) const {
    outgoing_request r;
    r.method = "BITS_POST";
    r.target = url.target;
    r.kind = kind;
    r.headers.emplace_back("Host", host_header(url));
    r.headers.emplace_back("User-Agent", user_agent_);
    // Credentials go preemptively: Basic has no handshake worth a round trip, and a
    // fragment's body would otherwise be sent twice.
    if (authorization_) r.headers.emplace_back("Authorization", *authorization_);
    r.headers.emplace_back("BITS-Packet-Type", std::string(packet_type));
    return r;
}

outgoing_request request_builder::ping(const http_url& url) const {
    auto r = bits_post(url, protocol::packet_kind::ping, "Ping");
    r.headers.emplace_back("Content-Length", "0");
    return r;
}

outgoing_request request_builder::create_session(const http_url& url) const {
    auto r = bits_post(url, protocol::packet_kind::create_session, "Create-Session");
    r.headers.emplace_back("BITS-Supported-Protocols",
                           std::string(protocol::bits_upload_protocol_guid));
    r.headers.emplace_back("Content-Name", content_name_);
    r.headers.emplace_back("Content-Length", "0");
    return r;
}

outgoing_request request_builder::fragment(const http_url& url, std::string_view session_id,
                                           std::uint64_t first, std::uint64_t length,
                                           std::uint64_t total) const {
    auto r = bits_post(url, protocol::packet_kind::fragment, "Fragment");
    r.headers.emplace_back("BITS-Session-Id", std::string(session_id));
    // Windows sends Content-Name on every fragment; servers ignore it, some log it.
    r.headers.emplace_back("Content-Name", content_name_);
    r.headers.emplace_back("Content-Range", format_content_range(first, length, total));
    r.headers.emplace_back("Content-Length", std::to_string(length));
    r.body_offset = first;
    r.body_length = length;
    return r;
}

outgoing_request request_builder::close_session(const http_url& url,
                                                std::string_view session_id) const {
    auto r = bits_post(url, protocol::packet_kind::close_session, "Close-Session");
    r.headers.emplace_back("BITS-Session-Id", std::string(session_id));
    r.headers.emplace_back("Content-Name", content_name_);
    r.headers.emplace_back("Content-Length", "0");
    return r;
}

outgoing_request request_builder::cancel_session(const http_url& url,
                                                 std::string_view session_id) const {
    auto r = bits_post(url, protocol::packet_kind::cancel_session, "Cancel-Session");
    r.headers.emplace_back("BITS-Session-Id", std::string(session_id));
    r.headers.emplace_back("Content-Length", "0");
    return r;
}

outgoing_request request_builder::reply_get(const http_url& reply, const http_url& upload_url,
                                            std::uint64_t from) const {
    outgoing_request r;
    r.method = "GET";
    r.target = reply.target;
    r.headers.emplace_back("Host", host_header(reply));
    r.headers.emplace_back("User-Agent", user_agent_);
    if (reply.user) {
        r.headers.emplace_back("Authorization",
                               basic_authorization(*reply.user, reply.password.value_or("")));
    } else if (authorization_ && same_host(reply, upload_url)) {
        r.headers.emplace_back("Authorization", *authorization_);
    }
    // BITS downloads only identity bodies: a Range over a compressed body means nothing.
    r.headers.emplace_back("Accept-Encoding", "identity");
    if (from > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(from) + "-");
    return r;
}

}  // namespace bitsd::client
