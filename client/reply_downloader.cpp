#include "client/reply_downloader.hpp"

#include "client/client_error.hpp"
#include "client/upload_rules.hpp"

#include "protocol/content_range.hpp"

#include <fstream>

namespace bitsd::client {
namespace {

// "bytes */N" of a 416: the full size of the entity.
std::optional<std::uint64_t> unsatisfied_range_total(std::string_view value) {
    const auto slash = value.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    return protocol::parse_decimal(value.substr(slash + 1));
}

}  // namespace

reply_downloader::reply_downloader(http_channel& channel, const request_builder& builder)
    : channel_(channel), builder_(builder) {}

std::filesystem::path reply_downloader::partial_path(const std::filesystem::path& destination) {
    auto path = destination;
    path += ".part";
    return path;
}

reply_result reply_downloader::download(const http_url& reply, const http_url& upload_url,
                                        const std::filesystem::path& destination) {
    reply_result result;
    const auto part = partial_path(destination);
    std::error_code fs_error;
    std::uint64_t have = 0;
    if (std::filesystem::is_regular_file(part, fs_error)) {
        have = std::filesystem::file_size(part, fs_error);
        if (fs_error) have = 0;
    }

    const auto request = builder_.reply_get(reply, upload_url, have);
    std::ofstream out;
    bool complete_already = false;
    bool wrong_range = false;
    response_head head;
    auto on_head = [&](const response_head& h) -> std::error_code {
        if (h.status == 206 && have > 0) {
            const auto range = find_header(h.headers, "Content-Range");
            const auto parsed = range ? protocol::parse_content_range(*range) : std::nullopt;
            if (!parsed || parsed->first != have) {
                wrong_range = true;
                return make_error_code(std::errc::invalid_argument);
            }
            out.open(part, std::ios::binary | std::ios::app);
        } else if (h.status == 200 || h.status == 206) {
            out.open(part, std::ios::binary | std::ios::trunc);  // the whole reply, from 0
        } else if (h.status == 416 && have > 0) {
            const auto range = find_header(h.headers, "Content-Range");
            const auto total = range ? unsatisfied_range_total(*range) : std::nullopt;
            complete_already = total && *total == have;
            if (!complete_already) wrong_range = true;
            return {};
        } else {
            return {};
        }
        if (!out) return client_errc::reply_write_failed;
        return {};
    };
    auto on_data = [&](const char* data, std::size_t size) -> std::error_code {
        if (!out.is_open()) return {};  // an error page's body
        out.write(data, static_cast<std::streamsize>(size));
        if (!out) return client_errc::reply_write_failed;
        return {};
    };
    const auto error = channel_.download(reply, request, head, on_head, on_data);
    if (out.is_open()) out.close();

    if (wrong_range) {
        // The partial file does not fit what the server has: start it over next time.
        std::filesystem::remove(part, fs_error);
        result.outcome = reply_outcome::transient;
        result.message = "the reply download's range did not match; starting it over";
        return result;
    }
    if (error == client_errc::interrupted) {
        result.outcome = reply_outcome::interrupted;
        return result;
    }
    if (error == client_errc::reply_write_failed || (!error && out.fail())) {
        result.outcome = reply_outcome::local_error;
        result.message = "cannot write " + part.string();
        return result;
    }
    if (error) {
        result.outcome = reply_outcome::transient;
        result.message = "reply download from " + to_string(reply) + ": " + error.message();
        return result;
    }
    if (!complete_already && head.status != 200 && head.status != 206) {
        const auto kind = classify_status(head.status);
        result.outcome = kind == status_class::fatal ? reply_outcome::refused
                                                     : reply_outcome::transient;
        result.message = "reply download from " + to_string(reply) + ": " +
                         describe_response(head);
        return result;
    }
    std::filesystem::rename(part, destination, fs_error);
    if (fs_error) {
        result.outcome = reply_outcome::local_error;
        result.message = "cannot move " + part.string() + " to " + destination.string() + ": " +
                         fs_error.message();
        return result;
    }
    result.outcome = reply_outcome::saved;
    result.bytes = std::filesystem::file_size(destination, fs_error);
    return result;
}

}  // namespace bitsd::client
