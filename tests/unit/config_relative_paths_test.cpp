// Relative paths in a config file resolve against the file's folder: uploads[].auth's
// credentials_file too (config/relative_paths.*), so /etc/bitsd/bitsd.json can name
// "users.passwd" beside itself whatever directory bitsd was started from.

#include "config/command_line.hpp"
#include "config/relative_paths.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cfg = bitsd::config;
namespace fs = std::filesystem;

namespace {

std::string write_config(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
}

cfg::command_result run_with(const std::string& config_file) {
    std::vector<const char*> argv{"bitsd", "--config", config_file.c_str(), nullptr};
    return cfg::parse_command_line(3, argv.data(), [](const char*) -> const char* { return nullptr; });
}

}  // namespace

TEST_CASE("config: a relative credentials_file is relative to the config file's folder",
          "[config][auth]") {
    bitsd::test::temp_dir dir;
    const fs::path folder = dir / "etc" / "bitsd";
    const auto file = write_config(folder / "bitsd.json", R"({"uploads": [
        {"url_prefix": "/u/", "destination_dir": "/srv/u",
         "auth": {"type": "basic", "credentials_file": "users.passwd", "allow_basic_without_tls": true}},
        {"url_prefix": "/v/", "destination_dir": "/srv/v",
         "auth": {"type": "basic", "credentials_file": "../shared/users.passwd", "allow_basic_without_tls": true}},
        {"url_prefix": "/w/", "destination_dir": "/srv/w",
         "auth": {"type": "basic", "credentials_file": "/abs/users.passwd", "allow_basic_without_tls": true}},
        {"url_prefix": "/x/", "destination_dir": "/srv/x"}]})");
    const auto result = run_with(file);
    INFO(result.output);
    REQUIRE(result.action == cfg::command_action::run);
    REQUIRE(result.config.uploads.size() == 4);
    CHECK(result.config.uploads[0].auth.credentials_file == folder / "users.passwd");
    CHECK(result.config.uploads[1].auth.credentials_file == dir / "etc" / "shared" / "users.passwd");
    CHECK(result.config.uploads[2].auth.credentials_file == fs::path("/abs/users.passwd"));
    CHECK(result.config.uploads[3].auth.credentials_file.empty());  // no auth: nothing invented
}

TEST_CASE("config: anchor_relative_paths anchors credentials files of the file's uploads only",
          "[config][auth]") {
    cfg::settings s;
    s.uploads.resize(1);
    s.uploads[0].auth.type = cfg::auth_type::basic;
    s.uploads[0].auth.credentials_file = "users.passwd";
    cfg::anchor_relative_paths(s, "/etc/bitsd", cfg::paths_from_file{});
    CHECK(s.uploads[0].auth.credentials_file == fs::path("users.passwd"));
    cfg::paths_from_file from_file;
    from_file.uploads = true;
    cfg::anchor_relative_paths(s, "/etc/bitsd", from_file);
    CHECK(s.uploads[0].auth.credentials_file == fs::path("/etc/bitsd/users.passwd"));
}
