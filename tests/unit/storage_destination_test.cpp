// Destinations resolved beneath their root without following symbolic links; conflicts that
// appear after Create-Session; the fixed-length temporary copy and its clean-up.

#include "storage/destination.hpp"
#include "storage/destination_resolver.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#ifndef _WIN32
#include <sys/stat.h>
#endif

namespace {

using namespace bitsd::storage;
using namespace bitsd::storage::test;

std::string make_session(session_store& store, unsigned n, const std::string& bytes) {
    const std::string id = session_id(n);
    REQUIRE_FALSE(store.create(make_metadata(id)));
    std::error_code ec;
    auto writer = store.open_append(id, 0, ec);
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(writer->write(bytes.data(), bytes.size()));
    REQUIRE_FALSE(writer->finish());
    return id;
}

session_info info_of(session_store& store, const std::string& id) {
    session_info info;
    REQUIRE_FALSE(store.info(id, info));
    return info;
}

// Every name under `root` with its content (links as their target), to show nothing changed.
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> seen;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const std::string rel = it->path().lexically_relative(root).string();
        if (it->is_symlink()) seen[rel] = "link:" + fs::read_symlink(it->path()).string();
        else if (it->is_directory()) seen[rel] = "dir";
        else seen[rel] = read_file(it->path());
    }
    return seen;
}

bool same_device(const fs::path& a, const fs::path& b) {
#ifndef _WIN32
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
#else
    (void)a;
    (void)b;
    return true;  // no /dev/shm to cross to
#endif
}

}  // namespace

// [posix]: wine 8.0 cannot create symbolic links (CreateSymbolicLinkW: "Function not implemented");
// README "Windows": a real Windows host must run this one.
TEST_CASE("platform: open_directory_beneath never follows a link", "[storage][destination][posix]") {
    const auto how = GENERATE(platform::resolution::automatic, platform::resolution::per_name);
    CAPTURE(how == platform::resolution::automatic ? "openat2" : "per name");
    temp_dir dir;
    temp_dir outside;
    fs::create_directories(dir / "a" / "b");
    write_file(dir / "a" / "file", "x");
    fs::create_directory_symlink(outside.path(), dir / "a" / "link");
    fs::create_directory_symlink(dir / "a" / "b", dir / "a" / "inner-link");  // even inside root

    std::error_code ec;
    platform::file_handle root = platform::open_directory(dir.path(), ec);
    REQUIRE_FALSE(ec);
    platform::file_handle b = platform::open_directory_beneath(root, {"a", "b"}, ec, how);
    CHECK_FALSE(ec);
    CHECK(b.is_open());

    (void)platform::open_directory_beneath(root, {"a", "link"}, ec, how);
    CHECK(ec == std::errc::too_many_symbolic_link_levels);
    (void)platform::open_directory_beneath(root, {"a", "inner-link"}, ec, how);
    CHECK(ec == std::errc::too_many_symbolic_link_levels);
    (void)platform::open_directory_beneath(root, {"a", "link", "deeper"}, ec, how);
    CHECK(ec == std::errc::too_many_symbolic_link_levels);
    (void)platform::open_directory_beneath(root, {"a", "file"}, ec, how);
    CHECK(ec == std::errc::not_a_directory);
    (void)platform::open_directory_beneath(root, {"a", "missing"}, ec, how);
    CHECK(ec == std::errc::no_such_file_or_directory);
    for (const char* bad : {"..", ".", "", "a/b"}) {
        (void)platform::open_directory_beneath(root, {bad}, ec, how);
        CHECK(ec == std::errc::invalid_argument);
    }
}

// [posix]: wine 8.0 cannot create symbolic links (CreateSymbolicLinkW: "Function not implemented");
// README "Windows": a real Windows host must run this one.
TEST_CASE("platform: session files are opened without following a link", "[storage][destination][posix]") {
    temp_dir dir;
    temp_dir outside;
    write_file(outside / "target", "outside");
    fs::create_symlink(outside / "target", dir / "data");
    std::error_code ec;
    for (const auto mode : {platform::open_mode::read, platform::open_mode::append,
                            platform::open_mode::create_truncate}) {
        (void)platform::open_file(dir / "data", mode, ec);
        CHECK(ec == std::errc::too_many_symbolic_link_levels);
    }
    CHECK(read_file(outside / "target") == "outside");
}

// [posix]: wine 8.0 cannot create symbolic links (CreateSymbolicLinkW: "Function not implemented");
// README "Windows": a real Windows host must run this one.
TEST_CASE("destination: probe reports what a commit would meet, never following links",
          "[storage][destination][posix]") {
    temp_dir dir;
    temp_dir outside;
    write_file(outside / "x", "precious");
    fs::create_directories(dir / "sub");
    write_file(dir / "file.bin", "x");
    fs::create_directory_symlink(outside.path(), dir / "evil");
    fs::create_symlink(outside / "x", dir / "link.bin");
    fs::create_symlink(outside / "missing", dir / "dangling.bin");

    const auto probe = [&](std::vector<std::string> names) {
        destination_status status = destination_status::missing;
        const std::error_code ec = probe_destination(destination{dir.path(), std::move(names)}, status);
        INFO(ec.message());
        REQUIRE_FALSE(ec);
        return status;
    };
    CHECK(probe({"new.bin"}) == destination_status::missing);
    CHECK(probe({"new", "deeper", "x.bin"}) == destination_status::missing);
    CHECK(probe({"file.bin"}) == destination_status::file);
    CHECK(probe({"sub"}) == destination_status::directory);
    CHECK(probe({"file.bin", "child"}) == destination_status::unusable);
    CHECK(probe({"evil", "x"}) == destination_status::symlink);
    CHECK(probe({"evil", "new", "x"}) == destination_status::symlink);
    CHECK(probe({"link.bin"}) == destination_status::symlink);
    CHECK(probe({"dangling.bin"}) == destination_status::symlink);
    destination_status status;
    CHECK(probe_destination(destination{dir.path(), {".."}}, status) == std::errc::invalid_argument);
    CHECK(probe_destination(destination{dir.path(), {}}, status) == std::errc::invalid_argument);
}

// [posix]: wine 8.0 cannot create symbolic links (CreateSymbolicLinkW: "Function not implemented");
// README "Windows": a real Windows host must run this one.
TEMPLATE_TEST_CASE("store: commit never follows a link in the destination tree",
                   "[storage][destination][posix]", filesystem_factory, memory_factory) {
    const bool overwrite = GENERATE(false, true);
    CAPTURE(overwrite);
    temp_dir dir;
    temp_dir outside;
    write_file(outside / "x", "precious");
    const fs::path root = dir / "files";
    fs::create_directories(root);
    fs::create_directory_symlink(outside.path(), root / "evil");
    fs::create_symlink(outside / "x", root / "link.bin");
    fs::create_symlink(outside / "missing", root / "dangling.bin");
    const auto before = snapshot(outside.path());
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 70, "payload");

    for (const auto& names : std::vector<std::vector<std::string>>{
             {"evil", "x"}, {"evil", "new.bin"}, {"evil", "sub", "new.bin"}, {"link.bin"}, {"dangling.bin"}}) {
        CAPTURE(names);
        CHECK(store->commit(id, destination{root, names}, overwrite) == storage_errc::destination_symlink);
        const session_info info = info_of(*store, id);
        CHECK(info.metadata.state == session_state::receiving);
        CHECK(info.received == 7);
    }
    CHECK(snapshot(outside.path()) == before);
    CHECK(fs::is_symlink(root / "link.bin"));
    CHECK(fs::is_symlink(root / "dangling.bin"));
    // The bytes are kept: a plain destination still works.
    REQUIRE_FALSE(store->commit(id, destination{root, {"plain.bin"}}, overwrite));
    CHECK(read_file(root / "plain.bin") == "payload");
}

TEMPLATE_TEST_CASE("store: a destination that can no longer be a file is destination_unusable",
                   "[storage][destination]", filesystem_factory, memory_factory) {
    const bool overwrite = GENERATE(false, true);
    CAPTURE(overwrite);
    temp_dir dir;
    const fs::path root = dir / "files";
    fs::create_directories(root / "empty-dir");
    fs::create_directories(root / "full-dir" / "inner");
    write_file(root / "c", "a file where a directory is needed");
    auto store = TestType{}(dir.path());
    const std::string id = make_session(*store, 71, "payload");
    const auto before = snapshot(root);

    for (const auto& names : std::vector<std::vector<std::string>>{
             {"c", "child.bin"}, {"c", "deeper", "child.bin"}, {"empty-dir"}, {"full-dir"}}) {
        CAPTURE(names);
        CHECK(store->commit(id, destination{root, names}, overwrite) == storage_errc::destination_unusable);
        CHECK(info_of(*store, id).metadata.state == session_state::receiving);
        CHECK(info_of(*store, id).received == 7);
    }
    CHECK(snapshot(root) == before);
}

TEST_CASE("destination: path-shape errors are named once", "[storage][destination]") {
    using std::errc;
    for (const auto e : {errc::not_a_directory, errc::is_a_directory, errc::directory_not_empty,
                         errc::file_exists, errc::filename_too_long}) {
        CHECK(destination_error(std::make_error_code(e)) == storage_errc::destination_unusable);
    }
    CHECK(destination_error(std::make_error_code(errc::too_many_symbolic_link_levels)) ==
          storage_errc::destination_symlink);
    CHECK(destination_error(std::make_error_code(errc::io_error)) == errc::io_error);
    CHECK(destination_error(make_error_code(storage_errc::disk_full)) == storage_errc::disk_full);
}

TEST_CASE("destination: the temporary name has a fixed length and is the session's own",
          "[storage][destination]") {
    const std::string a = temporary_name(session_id(1));
    CHECK(a == ".bitsd-" + session_id(1) + ".tmp");
    CHECK(a.size() == temporary_name(session_id(2)).size());
    CHECK(a != temporary_name(session_id(2)));
}

TEST_CASE("filesystem store: a 255-byte name commits across filesystems", "[storage][destination]") {
    temp_dir dir;
    const fs::path other_fs = "/dev/shm";
    if (!fs::is_directory(other_fs) || same_device(dir.path(), other_fs)) {
        WARN("no second filesystem at /dev/shm: cross-device commit not exercised");
        return;
    }
    temp_dir elsewhere(other_fs);
    auto store = filesystem_factory{}(dir.path());
    for (const std::size_t length : {206u, 230u, 255u}) {
        CAPTURE(length);
        const std::string id = make_session(*store, 72 + static_cast<unsigned>(length), "long name");
        const std::string name(length, 'n');
        REQUIRE_FALSE(store->commit(id, destination{elsewhere.path(), {"sub", name}}, false));
        CHECK(read_file(elsewhere / "sub" / name) == "long name");
    }
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(elsewhere / "sub")) {
        names.insert(entry.path().filename().string().substr(0, 1));
    }
    CHECK(names == std::set<std::string>{"n"});  // no hidden copy left behind
}

TEST_CASE("filesystem store: an abandoned temporary copy is deleted", "[storage][destination]") {
    temp_dir dir;
    auto store = filesystem_factory{}(dir.path());
    const fs::path root = dir / "files";
    fs::create_directories(root / "sub");
    const std::string id = make_session(*store, 80, "payload");
    const destination to{root, {"sub", "f.bin"}};
    const fs::path leftover = root / "sub" / temporary_name(id);
    const fs::path others = root / "sub" / temporary_name(session_id(81));
    write_file(others, "another session's copy in progress");

    SECTION("when the commit fails and rolls back") {
        write_file(leftover, "partial copy a crash left");
        write_file(root / "sub" / "f.bin", "taken");
        CHECK(store->commit(id, to, false) == storage_errc::destination_exists);
        CHECK_FALSE(fs::exists(leftover));
        CHECK(info_of(*store, id).metadata.state == session_state::receiving);
        CHECK(info_of(*store, id).received == 7);
    }
    SECTION("when the session is removed with its destination") {
        // The session as a crash mid-copy leaves it: committing, bytes and a partial copy.
        nlohmann::json metadata = nlohmann::json::parse(read_file(
            dir / "store" / "sessions" / ascii_lower_for_test(id.substr(1, 2)) / id / "metadata.json"));
        metadata["state"] = "committing";
        write_file(dir / "store" / "sessions" / ascii_lower_for_test(id.substr(1, 2)) / id / "metadata.json",
                   metadata.dump());
        write_file(leftover, "partial copy a crash left");
        REQUIRE_FALSE(store->remove(id, &to));
        CHECK_FALSE(fs::exists(leftover));
        session_info gone;
        CHECK(store->info(id, gone) == storage_errc::session_not_found);
    }
    SECTION("a removal that does not know the destination leaves it (nothing to find it by)") {
        write_file(leftover, "partial copy a crash left");
        REQUIRE_FALSE(store->remove(id, nullptr));
        CHECK(fs::exists(leftover));
    }
#ifndef _WIN32  // a symbolic link: see the [posix] tests above
    SECTION("a removal whose destination directory is gone or linked succeeds") {
        fs::remove_all(root / "sub");
        fs::create_directory_symlink(dir.path(), root / "sub");
        write_file(dir / temporary_name(id), "not reached through a link");
        REQUIRE_FALSE(store->remove(id, &to));
        CHECK(fs::exists(dir / temporary_name(id)));
    }
#endif
    if (fs::exists(root / "sub") && !fs::is_symlink(root / "sub")) {
        CHECK(read_file(others) == "another session's copy in progress");
    }
}

TEST_CASE("filesystem store: cancel frees the bytes before it writes the tombstone",
          "[storage][destination]") {
    temp_dir dir;
    auto store = filesystem_factory{}(dir.path());
    const std::string id = make_session(*store, 90, "payload");
    const fs::path session = dir / "store" / "sessions" / ascii_lower_for_test(id.substr(1, 2)) / id;
    // A tombstone that cannot be written: a directory where the journal goes, and one where
    // the metadata's temporary file goes.
    const fs::path journal = dir / "store" / "cancelled-sessions.journal";
    fs::create_directory(journal);
    fs::create_directory(session / "metadata.json.tmp");
    CHECK_FALSE(store->cancel(id));
    CHECK_FALSE(fs::exists(session / "data"));
    // Left receiving without bytes: harmless (nothing to commit; appends start at 0 again).
    const session_info info = info_of(*store, id);
    CHECK(info.metadata.state == session_state::receiving);
    CHECK(info.received == 0);
    fs::remove(session / "metadata.json.tmp");
    fs::remove(journal);
    CHECK_FALSE(store->cancel(id));
    CHECK(info_of(*store, id).metadata.state == session_state::cancelled);
    CHECK_FALSE(fs::exists(session));  // the journal has it now
}
