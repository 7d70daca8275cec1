#include "server/response_head.hpp"

#include <boost/beast/http/status.hpp>

namespace bitsd::server {
namespace {

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ", 2).append(value).append("\r\n", 2);
}

}  // namespace

void format_response_head(std::string& out, unsigned version, const protocol::response& response,
                          bool keep_alive) {
    out.clear();
    out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out.append(std::to_string(response.status)).push_back(' ');
    const auto reason = boost::beast::http::obsolete_reason(
        static_cast<boost::beast::http::status>(response.status));
    out.append(reason.data(), reason.size()).append("\r\n", 2);
    append_header(out, "Server", "bitsd");
    for (const auto& [name, value] : response.headers) append_header(out, name, value);
    append_header(out, "Content-Length", "0");
    if (version == 10 && keep_alive) append_header(out, "Connection", "keep-alive");
    if (version != 10 && !keep_alive) append_header(out, "Connection", "close");
    out.append("\r\n", 2);
}

}  // namespace bitsd::server
