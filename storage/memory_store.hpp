#pragma once
// A store held in memory, for tests: the filesystem store's contract without its durability.
// Committed files do go to the real filesystem, so tests can check what would be delivered.

#include "storage/session_store.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace bitsd::storage {

class memory_store final : public session_store {
public:
    memory_store();

    std::error_code create(const session_metadata& metadata) override;
    std::error_code info(std::string_view id, session_info& out) override;
    std::error_code update(const session_metadata& metadata) override;
    std::unique_ptr<appender> open_append(std::string_view id, std::uint64_t offset,
                                          std::error_code& ec) override;
    std::error_code commit(std::string_view id, const destination& to, bool overwrite) override;
    std::error_code cancel(std::string_view id) override;
    std::error_code release(std::string_view id) override;
    std::error_code remove(std::string_view id, const destination* to) override;
    std::error_code list(const std::function<void(const session_info&)>& visit) override;

    // One session's state; appenders share it with the map, so a removed session's appender
    // writes into a detached record instead of freed memory.
    struct record {
        session_metadata metadata;
        std::string data;
        bool data_present = true;  // false once moved (commit) or deleted (cancel)
        std::int64_t last_activity_unix = 0;
    };
    struct shared_state {
        std::mutex mutex;
        std::map<std::string, std::shared_ptr<record>> sessions;  // keyed by upper-case id
    };

private:
    std::shared_ptr<record> find(const std::string& id) const;  // caller holds the mutex
    // Runs operation(record, upper-case id) under the mutex (and error_guard) for an existing session;
    // an id that names none is session_not_found.
    template <typename Operation>
    std::error_code with_record(std::string_view id, Operation&& operation);
    static session_info info_of(const record& r);
    static void drop_bytes(record& r);  // caller holds the mutex

    std::shared_ptr<shared_state> state_;
};

}  // namespace bitsd::storage
