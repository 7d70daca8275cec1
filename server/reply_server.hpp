#pragma once
// Serves the back-end's reply to the client (upload-reply, issue 7): GET and HEAD of the
// absolute BITS-Reply-URL bitsd gave in the final Ack, which names the session:
//   <upload directory>/BITS-Sessions/Replies/{GUID}/responsefile.bin   (IIS's layout)
// One byte range (206 + Content-Range; 416 for an unsatisfiable one), Content-Length,
// Last-Modified, ETag, Accept-Ranges: bytes; If-Range that does not match drops the Range. The
// reply exists while the session is open and its delivery is `delivered` with a reply bitsd
// serves (not a back-end's BITS-Static-Response-URL): until Close-Session or expiry. A reply
// the back-end did not write (by reference) is empty, as IIS serves it. Only the session's
// owner gets it (as for its BITS packets); anything else is 404.
//
// prepare() reads the store and the file's status (disk work: the blocking pool); the
// connection then writes the head and streams the range from the file.

#include "storage/session_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bitsd::server {

struct reply_request {
    bool head = false;  // HEAD: the same head, no body
    std::string target;
    // Whom the request is from (its prefix's authentication; the client's address without)
    // and the upload prefix its path routes to: only the session's owner, under the prefix
    // the session was created in, is served; anyone else gets the answer of a missing reply.
    std::string principal;
    std::string url_prefix;
    std::optional<std::string> range;
    std::optional<std::string> if_range;
    unsigned version = 11;
    bool keep_alive = true;
};

struct reply_plan {
    std::string head;               // the whole response head, CRLF CRLF included
    std::string file;               // the file to send from; empty: no body
    std::uint64_t first = 0;        // bytes [first, first + length) of it
    std::uint64_t length = 0;
    bool close_after = false;       // Connection: close was sent
};

class reply_server {
public:
    explicit reply_server(storage::session_store& store);

    // Whether a GET/HEAD target has the shape of a reply URL (no store access).
    static bool is_reply_target(std::string_view target);

    reply_plan prepare(const reply_request& request);

private:
    storage::session_store& store_;
};

// An HTTP date (IMF-fixdate, RFC 9110 §5.6.7) for Last-Modified.
std::string http_date(std::int64_t unix_time);

}  // namespace bitsd::server
