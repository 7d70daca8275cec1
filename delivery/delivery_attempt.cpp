#include "delivery/delivery_attempt.hpp"

#include "delivery/delivery_error.hpp"
#include "delivery/request_signature.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <ctime>
#include <memory>
#include <utility>

namespace bitsd::delivery {
namespace {

// A by-value reply larger than this is refused (reply_too_large, a transient 502): the reply
// is a small answer for the client, not a second upload.
constexpr std::uint64_t reply_limit = 64ull * 1024 * 1024;

}  // namespace

bool is_permanent_local_failure(const std::error_code& ec) {
    // The notification cannot be built from the record and the configuration, or the HTTP
    // client refuses the request as built: the same inputs fail the same way every time.
    return ec.category() == protocol::notification_category() || ec == delivery_errc::bad_url ||
           ec == delivery_errc::bad_header;
}

std::error_code build_attempt_request(const attempt_input& input, std::int64_t unix_time,
                                      http_request& out) {
    const auto& record = input.record;
    protocol::notification_input n;
    n.upload = {record.upload_scheme, record.upload_host, record.upload_target};
    n.public_base_url = input.settings.public_base_url;
    n.notification_url = input.settings.url;
    n.type = input.settings.type;
    n.request_data_file = input.data_file;
    n.response_data_file = input.response_file;
    n.session_id = input.session_id;
    n.size = input.size;
    n.idempotency_key = record.idempotency_key;
    n.sha256_base64 = record.sha256_base64;
    protocol::notification_request notification;
    if (const auto ec = protocol::build_notification(n, notification)) return ec;
    http_request request = http_request::post_of(notification);
    if (input.settings.signing_secret) {
        const auto signer = request_signature::from_secret(*input.settings.signing_secret);
        const std::string value = signer.header_value(unix_time, "POST", request.target, request.headers);
        // Before Content-Length, which post_of keeps last.
        auto position = request.headers.end();
        if (!request.headers.empty() && request.headers.back().first == "Content-Length") --position;
        request.headers.insert(position, {std::string(signature_header), value});
    }
    if (input.settings.type == protocol::notification_type::value) {
        request.body_file = input.data_file;
        request.body_length = input.size;
        request.reply_file = input.response_file;
        request.reply_limit = reply_limit;
    }
    request.overall_timeout = input.settings.timeout;
    out = std::move(request);
    return {};
}

std::error_code check_deliverable(const delivery_settings& settings, std::string_view upload_target) {
    // Everything but the URL is a stand-in of the longest form it takes.
    attempt_input input;
    input.settings = settings;
    input.settings.signing_secret.reset();
    input.session_id = "{00000000-0000-0000-0000-000000000000}";
    input.record.upload_scheme = "https";
    input.record.upload_host = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
    input.record.upload_target = std::string(upload_target);
    input.record.idempotency_key = std::string(32, '0');
    input.record.sha256_base64 = std::string(44, 'A');
    http_request request;
    return build_attempt_request(input, 0, request);
}

void run_delivery_attempt(http_client& client, const attempt_input& input, attempt_handler done) {
    http_request request;
    if (const auto ec = build_attempt_request(input, static_cast<std::int64_t>(std::time(nullptr)), request)) {
        // A notification that cannot be built (a URL the configuration should have refused):
        // ours, not the back-end's. Reported on the client's context like every outcome.
        boost::asio::post(client.context(), [done = std::move(done), ec] {
            done(protocol::delivery_verdict{}, ec);
        });
        return;
    }
    const auto type = input.settings.type;
    client.post(std::move(request), [type, done = std::move(done)](std::error_code ec, http_response response) {
        if (ec) {
            const auto transport = classify_transport(ec);
            if (!transport) return done(protocol::delivery_verdict{}, ec);
            protocol::backend_response failed;
            failed.transport = *transport;
            auto verdict = protocol::classify_backend_response(type, failed);
            verdict.reason += " (" + ec.message() + ")";
            return done(std::move(verdict), {});
        }
        protocol::backend_response answered;
        answered.transport = protocol::backend_transport::answered;
        answered.status = response.status;
        answered.headers = std::move(response.headers);
        done(protocol::classify_backend_response(type, answered), {});
    });
}

}  // namespace bitsd::delivery
