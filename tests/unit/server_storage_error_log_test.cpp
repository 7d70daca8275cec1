// Issue 8 item 7: an error line about a storage failure names the path it is about (the
// session's directory in data_dir, or the destination), not only the errno text. A store that
// fails on demand (the real filesystem store underneath) stands in for an unwritable disk: the
// tests run as root, where permissions do not make a directory unwritable.

#include "server/upload_service.hpp"
#include "storage/session_locks.hpp"
#include "storage/session_store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

using namespace bitsd;

namespace {

// The filesystem store, with create and open_append failing when asked.
class failing_store final : public storage::session_store {
public:
    explicit failing_store(std::unique_ptr<storage::session_store> inner) : inner_(std::move(inner)) {}
    std::error_code fail_create, fail_append;

    std::error_code local_files(std::string_view id, storage::session_files& out) override {
        return inner_->local_files(id, out);
    }
    std::error_code create(const storage::session_metadata& m) override {
        return fail_create ? fail_create : inner_->create(m);
    }
    std::error_code info(std::string_view id, storage::session_info& out) override { return inner_->info(id, out); }
    std::error_code update(const storage::session_metadata& m) override { return inner_->update(m); }
    std::unique_ptr<storage::appender> open_append(std::string_view id, std::uint64_t offset,
                                                   std::error_code& ec) override {
        if (fail_append) {
            ec = fail_append;
            return nullptr;
        }
        return inner_->open_append(id, offset, ec);
    }
    std::error_code commit(std::string_view id, const storage::destination& to, bool overwrite) override {
        return inner_->commit(id, to, overwrite);
    }
    std::error_code cancel(std::string_view id) override { return inner_->cancel(id); }
    std::error_code release(std::string_view id) override { return inner_->release(id); }
    std::error_code remove(std::string_view id, const storage::destination* to) override {
        return inner_->remove(id, to);
    }
    std::error_code list(const std::function<void(const storage::session_info&)>& visit) override {
        return inner_->list(visit);
    }

private:
    std::unique_ptr<storage::session_store> inner_;
};

// Captures what the default logger writes while it lives.
struct captured_log {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    captured_log() {
        auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~captured_log() { spdlog::set_default_logger(previous); }
};

}  // namespace

TEST_CASE("a storage failure's error line names the session directory", "[server][logs]") {
    test::temp_dir dir;
    auto settings = std::make_shared<config::settings>();
    settings->data_dir = dir / "data";
    config::upload_prefix upload;
    upload.url_prefix = "/uploads/";
    upload.destination_dir = dir / "files";
    settings->uploads.push_back(upload);
    std::error_code ec;
    failing_store store(storage::make_filesystem_store(settings->data_dir, storage::fsync_policy::none, ec));
    REQUIRE_FALSE(ec);
    storage::session_locks locks;
    server::upload_service service(settings, store, locks);
    protocol::upload_location where{0, "/uploads/f.bin", {"f.bin"}};
    protocol::packet create;
    create.kind = protocol::packet_kind::create_session;
    create.protocol = std::string(protocol::bits_upload_protocol_guid);
    const std::string sessions_dir = (settings->data_dir / "sessions").string();

    SECTION("Create-Session in an unwritable data_dir") {
        store.fail_create = std::make_error_code(std::errc::permission_denied);
        captured_log log;
        CHECK(service.create_session(create, where).status == 500);
        const auto text = log.out.str();
        INFO(text);
        CHECK(text.find("[error]") != std::string::npos);
        CHECK(text.find(sessions_dir) != std::string::npos);
        CHECK(text.find(std::make_error_code(std::errc::permission_denied).message()) != std::string::npos);
    }
    SECTION("a Fragment whose file cannot be opened") {
        const auto ack = service.create_session(create, where);
        REQUIRE(ack.status == 200);
        std::string id;
        for (const auto& [name, value] : ack.headers) {
            if (name == "BITS-Session-Id") id = value;
        }
        REQUIRE_FALSE(id.empty());
        protocol::packet fragment;
        fragment.kind = protocol::packet_kind::fragment;
        fragment.session_id = id;
        fragment.sent_session_id = id;
        fragment.session_id_valid = true;
        fragment.range = protocol::content_range{0, 9, 10};
        fragment.content_length = 10;
        store.fail_append = std::make_error_code(std::errc::io_error);
        captured_log log;
        const auto result = service.begin_fragment(fragment, where);
        CHECK_FALSE(result);
        const auto text = log.out.str();
        INFO(text);
        storage::session_files files;
        REQUIRE_FALSE(store.local_files(id, files));
        CHECK(text.find(files.data.parent_path().string()) != std::string::npos);
    }
}
