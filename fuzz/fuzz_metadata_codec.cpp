// metadata.json decoding: a torn, foreign or hostile file must be refused cleanly (no throw, no
// crash), and whatever decodes must survive encode and decode unchanged: what the store
// rewrites is what it read.

#include "fuzz_check.hpp"

#include "storage/metadata_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace bitsd::storage;

namespace {

bool same(const session_metadata& a, const session_metadata& b) {
    return a.id == b.id && a.url_prefix == b.url_prefix && a.target == b.target &&
           a.destination == b.destination && a.total == b.total && a.state == b.state &&
           a.created_unix == b.created_unix && a.delivery.state == b.delivery.state &&
           a.delivery.sha256_base64 == b.delivery.sha256_base64 &&
           a.delivery.idempotency_key == b.delivery.idempotency_key &&
           a.delivery.attempts == b.delivery.attempts &&
           a.delivery.finalised_unix == b.delivery.finalised_unix &&
           a.delivery.next_attempt_unix == b.delivery.next_attempt_unix &&
           a.delivery.last_error == b.delivery.last_error &&
           a.delivery.upload_target == b.delivery.upload_target &&
           a.delivery.reply_url == b.delivery.reply_url &&
           a.delivery.copy_to_destination == b.delivery.copy_to_destination &&
           a.delivery.failed_status == b.delivery.failed_status &&
           a.delivery.close_requested == b.delivery.close_requested;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    session_metadata first;
    if (decode_metadata(text, first)) return 0;

    std::string encoded;
    // Decoded strings came from valid JSON, so they are UTF-8 and always encode.
    FUZZ_CHECK(!encode_metadata(first, encoded));
    session_metadata second;
    FUZZ_CHECK(!decode_metadata(encoded, second));
    FUZZ_CHECK(same(first, second));
    std::string again;
    FUZZ_CHECK(!encode_metadata(second, again));
    FUZZ_CHECK(again == encoded);
    return 0;
}
