#pragma once
// Helpers shared by the storage tests: a private temporary directory per test, file helpers
// and session fixtures.

#include "storage/session_record.hpp"
#include "storage/session_store.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>

namespace bitsd::storage::test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, deleted with everything in it at scope exit.
class temp_dir {
public:
    explicit temp_dir(const fs::path& base = fs::temp_directory_path()) {
        std::random_device entropy;
        std::mt19937_64 generator((std::uint64_t{entropy()} << 32) ^ entropy());
        for (;;) {
            char suffix[17];
            std::snprintf(suffix, sizeof suffix, "%016llx",
                          static_cast<unsigned long long>(generator()));
            path_ = base / (std::string("bitsd-test-") + suffix);
            if (fs::create_directory(path_)) break;  // never reuse someone else's directory
        }
    }
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(const fs::path& child) const { return path_ / child; }

private:
    fs::path path_;
};

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

inline session_metadata make_metadata(const std::string& id) {
    session_metadata metadata;
    metadata.id = id;
    metadata.url_prefix = "/uploads";
    metadata.target = "/uploads/file.bin";
    metadata.destination = "/srv/uploads/file.bin";
    metadata.created_unix = 1700000000;
    return metadata;
}

}  // namespace bitsd::storage::test
