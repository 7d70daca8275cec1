#pragma once
// A private temporary directory per test, shared by every unit test that touches files.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace bitsd::test {

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

}  // namespace bitsd::test
