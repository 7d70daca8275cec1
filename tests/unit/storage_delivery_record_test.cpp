// The durable delivery state (issue 7) in metadata.json: round trip, old metadata without it,
// and every malformed delivery object refused as corrupt metadata.

#include "storage/metadata_codec.hpp"
#include "storage/session_record.hpp"
#include "storage/storage_error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace bitsd::storage;

namespace {

session_metadata sample() {
    session_metadata m;
    m.id = "{11111111-2222-3333-4444-555555555555}";
    m.url_prefix = "/uploads/";
    m.target = "/uploads/a.bin";
    m.destination = "/srv/a.bin";
    m.total = 10;
    m.created_unix = 1700000000;
    return m;
}

std::string encoded(const session_metadata& m) {
    std::string text;
    REQUIRE_FALSE(encode_metadata(m, text));
    return text;
}

std::error_code decode_with_delivery(const nlohmann::json& delivery) {
    auto object = nlohmann::json::parse(encoded(sample()));
    object["delivery"] = delivery;
    session_metadata out;
    return decode_metadata(object.dump(), out);
}

}  // namespace

TEST_CASE("delivery state names round-trip and unknown names are refused", "[storage][delivery]") {
    for (auto state : {delivery_state::none, delivery_state::finalised, delivery_state::delivering,
                       delivery_state::delivered, delivery_state::dead_lettered}) {
        CHECK(delivery_state_from_string(to_string(state)) == state);
    }
    CHECK(std::string(to_string(delivery_state::dead_lettered)) == "dead_lettered");
    CHECK_FALSE(delivery_state_from_string("Delivered"));
    CHECK_FALSE(delivery_state_from_string(""));
    CHECK(delivery_pending(delivery_state::finalised));
    CHECK(delivery_pending(delivery_state::delivering));
    CHECK_FALSE(delivery_pending(delivery_state::none));
    CHECK_FALSE(delivery_pending(delivery_state::delivered));
    CHECK_FALSE(delivery_pending(delivery_state::dead_lettered));
}

TEST_CASE("metadata without a delivery keeps its old layout and decodes as state none", "[storage][delivery]") {
    const std::string text = encoded(sample());
    CHECK(text.find("delivery") == std::string::npos);
    session_metadata out;
    out.delivery.state = delivery_state::delivered;
    REQUIRE_FALSE(decode_metadata(text, out));
    CHECK(out.delivery.state == delivery_state::none);
    CHECK(out.delivery.idempotency_key.empty());
}

TEST_CASE("a delivery record round-trips through metadata.json", "[storage][delivery]") {
    auto m = sample();
    m.delivery.state = delivery_state::delivering;
    m.delivery.sha256_base64 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
    m.delivery.idempotency_key = "0123456789abcdef0123456789abcdef";
    m.delivery.attempts = 3;
    m.delivery.finalised_unix = 1700000100;
    m.delivery.next_attempt_unix = 1700000200;
    m.delivery.last_error = "back-end answered 503";
    m.delivery.upload_scheme = "http";
    m.delivery.upload_host = "host:8080";
    m.delivery.upload_target = "/uploads/a.bin?x=1";
    m.delivery.reply_url = "http://host:8080/uploads/reply";
    m.delivery.copy_to_destination = true;
    m.delivery.failed_status = 503;
    m.delivery.failed_hresult = 0x801901F7;
    session_metadata out;
    REQUIRE_FALSE(decode_metadata(encoded(m), out));
    const auto& d = out.delivery;
    CHECK(d.state == delivery_state::delivering);
    CHECK(d.sha256_base64 == m.delivery.sha256_base64);
    CHECK(d.idempotency_key == m.delivery.idempotency_key);
    CHECK(d.attempts == 3);
    CHECK(d.finalised_unix == 1700000100);
    CHECK(d.next_attempt_unix == 1700000200);
    CHECK(d.last_error == "back-end answered 503");
    CHECK(d.upload_scheme == "http");
    CHECK(d.upload_host == "host:8080");
    CHECK(d.upload_target == "/uploads/a.bin?x=1");
    CHECK(d.reply_url == "http://host:8080/uploads/reply");
    CHECK(d.copy_to_destination);
    CHECK(d.failed_status == 503);
    CHECK(d.failed_hresult == 0x801901F7);
}

TEST_CASE("a delivery object needs only its state; the other members default", "[storage][delivery]") {
    auto object = nlohmann::json::parse(encoded(sample()));
    object["delivery"] = {{"state", "finalised"}};
    session_metadata out;
    REQUIRE_FALSE(decode_metadata(object.dump(), out));
    CHECK(out.delivery.state == delivery_state::finalised);
    CHECK(out.delivery.attempts == 0);
}

TEST_CASE("a malformed delivery object is corrupt metadata", "[storage][delivery]") {
    const auto corrupt = make_error_code(storage_errc::corrupt_metadata);
    CHECK(decode_with_delivery("finalised") == corrupt);
    CHECK(decode_with_delivery(nlohmann::json::object()) == corrupt);  // no state
    CHECK(decode_with_delivery({{"state", "sent"}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "none"}, {"attempts", 3}}) == corrupt);  // never written
    CHECK(decode_with_delivery({{"state", 1}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"attempts", -1}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"attempts", 4294967296ull}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"attempts", 1.5}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"idempotency_key", 7}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"copy_to_destination", "yes"}}) == corrupt);
    CHECK(decode_with_delivery({{"state", "finalised"}, {"finalised_unix", "now"}}) == corrupt);
}
