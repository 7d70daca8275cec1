#pragma once
// Relative paths in a config file mean "next to this file", not "wherever bitsd was started
// from": a unit, a container and a shell start bitsd from different working directories, and
// the same file must mean the same folders in all of them.

#include "config/config.hpp"

#include <filesystem>

namespace bitsd::config {

// Which path keys the file itself set (the others came from defaults, flags or the
// environment, and stay relative to the working directory).
struct paths_from_file {
    bool data_dir = false;
    bool uploads = false;  // every uploads[i].destination_dir and .auth.credentials_file
};

// Makes the relative paths the file set absolute against `config_dir` (the folder of the file,
// itself made absolute against the working directory).
void anchor_relative_paths(settings& s, const std::filesystem::path& config_dir,
                           const paths_from_file& from_file);

}  // namespace bitsd::config
