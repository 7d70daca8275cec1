#pragma once
// Helpers shared by the storage tests: a private temporary directory per test, file helpers
// and session fixtures.

#include "storage/destination.hpp"
#include "storage/session_record.hpp"
#include "storage/session_store.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>

namespace bitsd::storage::test {

namespace fs = std::filesystem;

using bitsd::test::temp_dir;

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// A valid session id in canonical (upper) case whose last digits are `n`, e.g.
// "{0123ABCD-0000-4000-8000-000000000007}".
inline std::string session_id(unsigned n, const char* head = "0123abcd") {
    char text[64];
    std::snprintf(text, sizeof text, "{%s-0000-4000-8000-%012X}", head, n);
    std::string id = text;
    for (char& c : id) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return id;
}

inline std::string ascii_lower_for_test(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
}

// A destination given as one path: its directory as the root, its file name beneath it.
inline destination to(const fs::path& path) {
    return destination{path.parent_path(), {path.filename().string()}};
}

inline session_metadata make_metadata(const std::string& id) {
    session_metadata metadata;
    metadata.id = id;
    metadata.url_prefix = "/uploads";
    metadata.target = "/uploads/file.bin";
    metadata.destination = "/srv/uploads/file.bin";
    metadata.created_unix = 1700000000;
    return metadata;
}

// The stores every contract test runs against (Catch2 TEMPLATE_TEST_CASE parameters).
struct filesystem_factory {
    std::unique_ptr<session_store> operator()(const fs::path& root) const {
        std::error_code ec;
        auto store = make_filesystem_store(root / "store", fsync_policy::durable, ec);
        REQUIRE_FALSE(ec);
        REQUIRE(store);
        return store;
    }
};

struct memory_factory {
    std::unique_ptr<session_store> operator()(const fs::path&) const { return make_memory_store(); }
};

}  // namespace bitsd::storage::test
