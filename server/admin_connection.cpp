#include "server/admin_connection.hpp"

#include "server/access_log.hpp"
#include "server/admin_api.hpp"
#include "server/admin_listener.hpp"
#include "server/metrics.hpp"
#include "server/readiness.hpp"
#include "server/recent_requests.hpp"
#include "server/status_page.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

namespace bitsd::server {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

constexpr std::chrono::seconds admin_timeout{10};
constexpr std::uint32_t admin_header_limit = 8 * 1024;

}  // namespace

admin_connection::admin_connection(net::ip::tcp::socket&& socket, std::shared_ptr<admin_listener> owner)
    : stream_(std::move(socket)), owner_(std::move(owner)) {}

void admin_connection::run() { do_read(); }

void admin_connection::do_read() {
    parser_.emplace();
    parser_->header_limit(admin_header_limit);
    parser_->body_limit(0);
    stream_.expires_after(admin_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&admin_connection::on_read, shared_from_this()));
}

void admin_connection::on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
        beast::error_code ignored;
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        return;
    }
    if (ec) {
        spdlog::debug("admin request from {} refused: {}", stream_.socket().remote_endpoint(ec).address().to_string(),
                      ec.message());
        response_ = {};
        response_.keep_alive(false);
        return send(400, "text/plain; charset=utf-8", "bad request\n");
    }
    answer();
}

void admin_connection::answer() {
    const auto& request = parser_->get();
    response_ = {};
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    if (refused_host()) return;
    const auto method = request.method();
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));  // a cache-busting query changes nothing
    if (method != http::verb::get && method != http::verb::head) {
        response_.set(http::field::allow, "GET, HEAD");
        return send(405, "text/plain; charset=utf-8", "only GET and HEAD\n");
    }
    if (target == "/healthz") return send(200, "text/plain; charset=utf-8", "ok\n");
    if (target == "/readyz") {
        const auto& ready = readiness::global();
        if (ready.ready()) return send(200, "text/plain; charset=utf-8", "ready\n");
        return send(503, "text/plain; charset=utf-8", ready.draining() ? "draining\n" : "starting\n");
    }
    if (target == "/" || target == "/index.html") {
        response_.set(http::field::cache_control, "no-store");
        return send(200, "text/html; charset=utf-8", std::string(status_page_html()));
    }
    if (target == "/api/recent") {
        response_.set(http::field::cache_control, "no-store");
        return send(200, "application/json", recent_json(recent_requests::global().snapshot()));
    }
    if (target == "/metrics") return answer_from_store(true);
    if (target == "/api/sessions") return answer_from_store(false);
    send(404, "text/plain; charset=utf-8", "not found: try /, /healthz, /readyz, /metrics, /api/sessions, /api/recent\n");
}

bool admin_connection::refused_host() {
    // DNS rebinding: a page whose name resolves to this address reaches us with its own name in
    // Host. Browsers always send Host, so HTTP/1.0 without one (a bare script) may pass.
    const auto& request = parser_->get();
    const auto host_fields = request.count(http::field::host);
    if (host_fields > 1 || (host_fields == 0 && request.version() >= 11)) {
        response_.keep_alive(false);
        send(400, "text/plain; charset=utf-8", "bad request: exactly one Host header\n");
        return true;
    }
    if (host_fields == 1) {
        const auto host = request[http::field::host];
        if (!admin_host_allowed(std::string_view(host.data(), host.size()), owner_->hosts())) {
            if (spdlog::should_log(spdlog::level::debug)) {
                std::string shown;
                append_json_escaped(shown, std::string_view(host.data(), host.size()));
                beast::error_code ignored;
                spdlog::debug("admin request from {} refused (421): Host \"{}\" is not the admin address "
                              "or in admin_allowed_hosts",
                              stream_.socket().remote_endpoint(ignored).address().to_string(), shown);
            }
            response_.keep_alive(false);
            send(421, "text/plain; charset=utf-8",
                 "misdirected request: this Host is not served here (admin_allowed_hosts)\n");
            return true;
        }
    }
    return false;
}

void admin_connection::answer_from_store(bool metrics_text) {
    // Listing the store reads every session's metadata: a disk walk, on the admin's own thread
    // of the blocking pool (never the threads uploads wait for).
    net::post(owner_->blocking().admin_executor(), [self = shared_from_this(), metrics_text] {
        const auto sessions = self->owner_->sessions();
        std::string body;
        std::string type;
        if (metrics_text) {
            metrics::global().render(body, count_sessions(*sessions), self->owner_->version());
            type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
            body = sessions_json(*sessions, static_cast<std::int64_t>(std::time(nullptr)));
            type = "application/json";
        }
        net::post(self->stream_.get_executor(), [self, body = std::move(body), type = std::move(type)]() mutable {
            self->response_.set(http::field::cache_control, "no-store");
            self->send(200, std::move(type), std::move(body));
        });
    });
}

void admin_connection::send(unsigned status, std::string content_type, std::string body) {
    response_.result(status);
    response_.set(http::field::server, "bitsd");
    response_.set(http::field::content_type, content_type);
    const bool head = parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
    response_.body() = std::move(body);
    response_.prepare_payload();  // Content-Length of the GET answer, also for HEAD
    if (head) response_.body().clear();  // the header keeps the length; no body follows
    stream_.expires_after(admin_timeout);
    http::async_write(stream_, response_, beast::bind_front_handler(&admin_connection::on_write, shared_from_this()));
}

void admin_connection::on_write(beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!response_.keep_alive()) {
        beast::error_code ignored;
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
        return;
    }
    do_read();
}

}  // namespace bitsd::server
