#pragma once
// The upload-reply download (bits-protocol.md §5.5): a plain GET of BITS-Reply-URL into a file,
// before Close-Session (which deletes the reply on the server). The bytes go to "<FILE>.part"
// first; an interrupted download continues with a Range request (206), a server that ignores
// Range (200) starts the file over, and the finished file is renamed into place.

#include "client/http_channel.hpp"
#include "client/request_builder.hpp"
#include "client/url.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace bitsd::client {

enum class reply_outcome {
    saved,        // the reply is in the file
    transient,    // network error or a transient status: retry later
    refused,      // a fatal status (404, 403, ...)
    local_error,  // the file could not be written
    interrupted,
};

struct reply_result {
    reply_outcome outcome = reply_outcome::transient;
    std::string message;
    std::uint64_t bytes = 0;  // the reply's size when saved
};

class reply_downloader {
public:
    reply_downloader(http_channel& channel, const request_builder& builder);

    // Downloads `reply` into `destination`; `upload_url` decides whether credentials go along.
    reply_result download(const http_url& reply, const http_url& upload_url,
                          const std::filesystem::path& destination);

    static std::filesystem::path partial_path(const std::filesystem::path& destination);

private:
    http_channel& channel_;
    const request_builder& builder_;
};

}  // namespace bitsd::client
