#include "server/reply_server.hpp"

#include "protocol/notification.hpp"
#include "protocol/upload_path.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_id.hpp"

#include <boost/beast/http/status.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <vector>

namespace bitsd::server {
namespace {

// The last segments of a reply path (reply_path in delivery_coordinator).
constexpr std::string_view sessions_segment = "BITS-Sessions";
constexpr std::string_view replies_segment = "Replies";
constexpr std::string_view reply_name = "responsefile.bin";

std::string_view path_of(std::string_view target) {
    const auto query = target.find('?');
    return query == std::string_view::npos ? target : target.substr(0, query);
}

// Decoded segments of a path; nullopt when an escape is malformed.
std::optional<std::vector<std::string>> decoded_segments(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto end = path.find('/', start);
        const auto piece = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        auto decoded = protocol::percent_decode(piece);
        if (!decoded) return std::nullopt;
        out.push_back(std::move(*decoded));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return out;
}

// The session id a reply path names, if it has the shape.
std::optional<std::string> reply_session(std::string_view target) {
    const auto segments = decoded_segments(path_of(target));
    if (!segments || segments->size() < 4) return std::nullopt;
    const auto n = segments->size();
    if ((*segments)[n - 1] != reply_name || (*segments)[n - 3] != replies_segment ||
        (*segments)[n - 4] != sessions_segment) {
        return std::nullopt;
    }
    return (*segments)[n - 2];
}

// The path of an absolute URL (scheme://authority/path?query).
std::string_view url_path(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const auto path_start = url.find('/', scheme_end + 3);
    if (path_start == std::string_view::npos) return {};
    return path_of(url.substr(path_start));
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

std::string status_line(unsigned version, unsigned status) {
    const auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    return std::string(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
           std::string(reason.data(), reason.size()) + "\r\n";
}

void finish_head(std::string& head, const reply_request& request, reply_plan& plan) {
    if (request.version == 10 && request.keep_alive) append_header(head, "Connection", "keep-alive");
    if (request.version != 10 && !request.keep_alive) append_header(head, "Connection", "close");
    plan.close_after = !request.keep_alive;
    head.append("\r\n");
}

reply_plan not_found(const reply_request& request) {
    reply_plan plan;
    plan.head = status_line(request.version, 404);
    append_header(plan.head, "Server", "bitsd");
    append_header(plan.head, "Content-Length", "0");
    finish_head(plan.head, request, plan);
    return plan;
}

}  // namespace

std::string http_date(std::int64_t unix_time) {
    const std::time_t t = static_cast<std::time_t>(unix_time);
    std::tm tm{};
#ifdef _WIN32
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return text;
}

reply_server::reply_server(storage::session_store& store) : store_(store) {}

bool reply_server::is_reply_target(std::string_view target) { return reply_session(target).has_value(); }

reply_plan reply_server::prepare(const reply_request& request) {
    const auto id = reply_session(request.target);
    if (!id || !storage::normalize_session_id(*id)) return not_found(request);
    storage::session_info info;
    if (store_.info(*id, info)) return not_found(request);
    const auto& d = info.metadata.delivery;
    // Only the URL bitsd itself handed out, for an open session whose delivery succeeded.
    if (info.metadata.state != storage::session_state::receiving ||
        d.state != storage::delivery_state::delivered || d.reply_url.empty()) {
        return not_found(request);
    }
    // Another principal's reply is, for this request, a reply that does not exist ("" owner:
    // a session stored before owners were recorded, anyone's).
    if (info.metadata.url_prefix != request.url_prefix ||
        (!info.metadata.owner.empty() && info.metadata.owner != request.principal)) {
        return not_found(request);
    }
    const auto served = decoded_segments(url_path(d.reply_url));
    const auto asked = decoded_segments(path_of(request.target));
    if (!served || !asked || *served != *asked) return not_found(request);

    storage::session_files files;
    if (store_.local_files(*id, files)) return not_found(request);
    storage::platform::file_status status;
    std::uint64_t size = 0;
    std::int64_t modified = d.finalised_unix;
    if (!storage::platform::status_of(files.reply, status)) {
        size = status.size;
        modified = status.mtime_unix;
    }  // missing: the back-end wrote no reply, an empty one (IIS)
    const std::string last_modified = http_date(modified);
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(modified));

    std::optional<std::string_view> range;
    if (request.range) range = *request.range;
    // If-Range (RFC 9110 §13.1.5): the range only when the validator still matches.
    if (range && request.if_range && *request.if_range != etag && *request.if_range != last_modified) {
        range.reset();
    }
    const auto answer = protocol::evaluate_range(range, size);

    reply_plan plan;
    plan.head = status_line(request.version, answer.status);
    append_header(plan.head, "Server", "bitsd");
    append_header(plan.head, "Accept-Ranges", "bytes");
    append_header(plan.head, "Last-Modified", last_modified);
    append_header(plan.head, "ETag", etag);
    if (answer.status == 416) {
        append_header(plan.head, "Content-Range", answer.content_range);
        append_header(plan.head, "Content-Length", "0");
    } else {
        append_header(plan.head, "Content-Type", "application/octet-stream");
        if (answer.status == 206) append_header(plan.head, "Content-Range", answer.content_range);
        append_header(plan.head, "Content-Length", std::to_string(answer.length));
        if (!request.head && answer.length > 0) {
            plan.file = files.reply.string();
            plan.first = answer.first;
            plan.length = answer.length;
        }
    }
    finish_head(plan.head, request, plan);
    return plan;
}

}  // namespace bitsd::server
