#include "server/request_log.hpp"

#include "server/access_log.hpp"
#include "server/recent_requests.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

namespace bitsd::server {

namespace {

std::string_view field(const request_log::request_type* request, std::string_view name) {
    if (request == nullptr) return {};
    const auto it = request->find(name);
    if (it == request->end()) return {};
    return {it->value().data(), it->value().size()};
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if ((x | 0x20) != (y | 0x20)) return false;
    }
    return true;
}

}  // namespace

bool is_secret_field(std::string_view name) noexcept {
    return iequals(name, "Authorization") || iequals(name, "Proxy-Authorization") ||
           iequals(name, "Cookie") || iequals(name, "Set-Cookie");
}

void trace_request(const boost::asio::ip::tcp::endpoint& peer, const request_log::request_type& request) {
    std::string line;
    for (const auto& f : request) {
        const std::string_view name(f.name_string().data(), f.name_string().size());
        const std::string_view value = is_secret_field(name) ? std::string_view("[redacted]")
                                                              : std::string_view(f.value().data(), f.value().size());
        line.append(" ").append(name).append(": ");
        for (const char ch : value) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x20 || c >= 0x7f || c == '\\') {
                char hex[5];
                std::snprintf(hex, sizeof hex, "\\x%02X", c);
                line.append(hex, 4);
            } else {
                line.push_back(ch);
            }
        }
        line.append(";");
    }
    const auto method = request.method_string();
    const auto target = request.target();
    spdlog::trace("request from {}: {} {} HTTP/{}.{};{}", format_peer(peer), std::string_view(method.data(), method.size()),
                  std::string_view(target.data(), target.size()), request.version() / 10, request.version() % 10, line);
}

request_kind to_request_kind(std::optional<protocol::packet_kind> kind) noexcept {
    if (!kind) return request_kind::other;
    switch (*kind) {
    case protocol::packet_kind::ping: return request_kind::ping;
    case protocol::packet_kind::create_session: return request_kind::create_session;
    case protocol::packet_kind::fragment: return request_kind::fragment;
    case protocol::packet_kind::close_session: return request_kind::close_session;
    case protocol::packet_kind::cancel_session: return request_kind::cancel_session;
    }
    return request_kind::other;
}

std::string format_peer(const boost::asio::ip::tcp::endpoint& peer) {
    const auto address = peer.address();
    std::string text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return text + ":" + std::to_string(peer.port());
}

void request_log::answered(const protocol::response& response) {
    status_ = response.status;
    error_size_ = 0;
    created_session_.clear();
    for (const auto& [name, value] : response.headers) {
        if (iequals(name, "BITS-Error-Code") && value.size() <= error_.size()) {
            value.copy(error_.data(), value.size());
            error_size_ = value.size();
        } else if (iequals(name, "BITS-Session-Id") && response.status == 200 && created_session_.empty()) {
            created_session_ = value;  // echoed or new: the request's own header wins below
        }
    }
}

void request_log::finished(const boost::asio::ip::tcp::endpoint& peer, const request_type* request,
                           std::optional<protocol::packet_kind> kind, std::uint64_t body_bytes,
                           const char* lost) {
    const auto took = clock::now() - started_;
    const auto counted_kind = to_request_kind(kind);
    if (lost == nullptr) {
        metrics::global().count_request(counted_kind, status_);
        if (counted_kind == request_kind::fragment) metrics::global().observe_fragment(took);
    }
    const bool rejected = lost == nullptr && status_ >= 400;
    if (!rejected && !access_log::enabled()) return;

    access_record record;
    const std::string client = format_peer(peer);
    record.client = client;
    if (request != nullptr) {
        const auto method = request->method_string();
        record.method = {method.data(), method.size()};
        const auto target = request->target();
        record.target = {target.data(), target.size()};
    }
    record.packet_type = field(request, "BITS-Packet-Type");
    record.session_id = field(request, "BITS-Session-Id");
    if (record.session_id.empty()) record.session_id = created_session_;
    record.range = field(request, "Content-Range");
    record.status = lost == nullptr ? status_ : 0;
    record.error = lost != nullptr ? std::string_view(lost) : std::string_view(error_.data(), error_size_);
    record.bytes = body_bytes;
    record.duration = took;
    access_log::write(record);

    if (rejected) {
        recent_request recent;
        recent.time_unix = static_cast<std::int64_t>(std::time(nullptr));
        recent.client = client;
        recent.method = std::string(record.method);
        recent.target = std::string(record.target);
        recent.packet_type = std::string(record.packet_type);
        recent.session_id = std::string(record.session_id);
        recent.status = status_;
        recent.error = std::string(record.error);
        recent_requests::global().add(std::move(recent));
    }
}

}  // namespace bitsd::server
