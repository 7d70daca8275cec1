#pragma once
// The requests bits-upload sends, header by header, as bits-protocol.md §2 shows them. Pure:
// the channel writes what this builds and streams a Fragment's body from the file.

#include "client/url.hpp"

#include "protocol/engine.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::client {

struct outgoing_request {
    std::string method;              // BITS_POST, or GET for the upload-reply
    std::string target;
    protocol::header_list headers;   // every header, Content-Length included
    std::uint64_t body_offset = 0;   // Fragment: where its bytes start in the file
    std::uint64_t body_length = 0;   // Fragment: how many bytes follow the header
    protocol::packet_kind kind = protocol::packet_kind::ping;  // meaningless for GET
};

// "bytes <first>-<last>/<total>" for `length` bytes at `first` (length > 0).
std::string format_content_range(std::uint64_t first, std::uint64_t length, std::uint64_t total);

// "Basic " + base64(user ":" password).
std::string basic_authorization(std::string_view user, std::string_view password);

// Content-Name: the file's name without its directory; Windows refuses \ / : * ? " < > | in it
// and it must be a plain header value, so those and any non-printable or non-ASCII byte become
// "_"; at most 260 characters.
std::string content_name_for(std::string_view file_name);

class request_builder {
public:
    request_builder(std::string user_agent, std::optional<std::string> authorization,
                    std::string content_name);

    outgoing_request ping(const http_url& url) const;
    outgoing_request create_session(const http_url& url) const;
    outgoing_request fragment(const http_url& url, std::string_view session_id,
                              std::uint64_t first, std::uint64_t length,
                              std::uint64_t total) const;
    outgoing_request close_session(const http_url& url, std::string_view session_id) const;
    outgoing_request cancel_session(const http_url& url, std::string_view session_id) const;

    // GET of the upload-reply, from byte `from` on (a Range request when from > 0).
    // Credentials go only to the host and port they were given for.
    outgoing_request reply_get(const http_url& reply, const http_url& upload_url,
                               std::uint64_t from) const;

private:
    outgoing_request bits_post(const http_url& url, protocol::packet_kind kind,
                               std::string_view packet_type) const;

    std::string user_agent_;
    std::optional<std::string> authorization_;
    std::string content_name_;
};

}  // namespace bitsd::client
