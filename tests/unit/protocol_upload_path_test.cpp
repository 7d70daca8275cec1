// route(): which upload prefix a request-target belongs to and the safe file path it names.
// Rules: bits-protocol.md §1.1 (BITS_POST only), §1.2 (URL semantics, directory -> 400),
// §3.3 step 1, and the engine's own contract in protocol/upload_path.hpp.

#include "protocol/upload_path.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <vector>

using bitsd::protocol::bits_errc;
using bitsd::protocol::percent_decode;
using bitsd::protocol::max_segment_length;
using bitsd::protocol::route;
using bitsd::protocol::route_result;

namespace {

const std::vector<std::string> prefixes{"/uploads/", "/uploads/big/", "/other/", "/a/b/c/"};

route_result post(const std::string& target) { return route("BITS_POST", target, prefixes); }

using segments = std::vector<std::string>;

}  // namespace

TEST_CASE("protocol: route picks the longest matching prefix", "[protocol][upload_path]") {
    struct route_case {
        const char* target;
        std::size_t prefix_index;
        segments expected;
    };
    const route_case c = GENERATE(values<route_case>({
        {"/uploads/file.txt", 0, {"file.txt"}},
        {"/uploads/big/file.txt", 1, {"file.txt"}},
        {"/uploads/big/sub/file.txt", 1, {"sub", "file.txt"}},
        {"/uploads/bigger/file.txt", 0, {"bigger", "file.txt"}},  // "/uploads/big" is not "/uploads/big/"
        {"/uploads/big", 0, {"big"}},                              // a file called "big" under /uploads/
        {"/other/x", 2, {"x"}},
        {"/a/b/c/d/e", 3, {"d", "e"}},
    }));
    CAPTURE(c.target);
    const auto r = post(c.target);
    REQUIRE_FALSE(r.error);
    CHECK(r.location.prefix_index == c.prefix_index);
    CHECK(r.location.segments == c.expected);
    CHECK(r.location.path == c.target);
}

TEST_CASE("protocol: longest prefix wins whatever the order of the prefix list",
          "[protocol][upload_path]") {
    const std::vector<std::string> reversed{"/uploads/big/", "/uploads/"};
    const auto a = route("BITS_POST", "/uploads/big/f", reversed);
    REQUIRE_FALSE(a.error);
    CHECK(a.location.prefix_index == 0);
    CHECK(a.location.segments == segments{"f"});

    const std::vector<std::string> forward{"/uploads/", "/uploads/big/"};
    const auto b = route("BITS_POST", "/uploads/big/f", forward);
    REQUIRE_FALSE(b.error);
    CHECK(b.location.prefix_index == 1);
    CHECK(b.location.segments == segments{"f"});

    const std::vector<std::string> with_root{"/", "/uploads/"};
    const auto c = route("BITS_POST", "/uploads/f", with_root);
    REQUIRE_FALSE(c.error);
    CHECK(c.location.prefix_index == 1);
    const auto d = route("BITS_POST", "/elsewhere/f", with_root);
    REQUIRE_FALSE(d.error);
    CHECK(d.location.prefix_index == 0);
    CHECK(d.location.segments == segments{"elsewhere", "f"});
}

TEST_CASE("protocol: route answers 404 outside every prefix", "[protocol][upload_path]") {
    const char* target = GENERATE(values<const char*>({
        "/",
        "/upload/file",      // not "/uploads/"
        "/uploads",          // the prefix without its trailing slash
        "/Uploads/file",     // paths are case-sensitive
        "/x/uploads/file",
        "uploads/file",
        "",
        "*",
    }));
    CAPTURE(target);
    for (const char* method : {"BITS_POST", "GET", "POST"}) {
        CAPTURE(method);
        const auto r = route(method, target, prefixes);
        // A BITS client gets a 404 Ack; anything else a plain 404.
        CHECK(r.error == (std::string_view(method) == "BITS_POST" ? bits_errc::upload_url_not_found
                                                                   : bits_errc::not_found));
    }
    CHECK(route("BITS_POST", "/uploads/x", {}).error == bits_errc::upload_url_not_found);
    CHECK(route("GET", "/uploads/x", {}).error == bits_errc::not_found);
}

TEST_CASE("protocol: a name longer than 255 bytes is refused", "[protocol][upload_path]") {
    const std::vector<std::string> prefixes{"/uploads/"};
    const std::string longest(max_segment_length, 'n');
    CHECK_FALSE(route("BITS_POST", "/uploads/" + longest, prefixes).error);
    CHECK_FALSE(route("BITS_POST", "/uploads/" + longest + "/" + longest, prefixes).error);
    CHECK(route("BITS_POST", "/uploads/" + longest + "n", prefixes).error == bits_errc::bad_destination_path);
    CHECK(route("BITS_POST", "/uploads/" + longest + "n/x", prefixes).error == bits_errc::bad_destination_path);
    // Counted after decoding: 255 escaped bytes are 255 bytes.
    std::string escaped;
    for (std::size_t i = 0; i < max_segment_length; ++i) escaped += "%41";
    CHECK_FALSE(route("BITS_POST", "/uploads/" + escaped, prefixes).error);
    CHECK(route("BITS_POST", "/uploads/" + escaped + "%41", prefixes).error == bits_errc::bad_destination_path);
}

TEST_CASE("protocol: route answers 405 for other methods on a prefix", "[protocol][upload_path]") {
    const char* method = GENERATE(values<const char*>({
        "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "bits_post", "Bits_Post", "BITS_POST ",
        "BITS_GET", "",
    }));
    CAPTURE(method);
    CHECK(route(method, "/uploads/file.txt", prefixes).error == bits_errc::method_not_allowed);
    CHECK(route(method, "/uploads/", prefixes).error == bits_errc::method_not_allowed);
    CHECK(route(method, "/uploads/../etc", prefixes).error == bits_errc::method_not_allowed);
}

TEST_CASE("protocol: route drops the query string and fragment", "[protocol][upload_path]") {
    const auto r = post("/uploads/dir/file.txt?a=1&b=/../..");
    REQUIRE_FALSE(r.error);
    CHECK(r.location.path == "/uploads/dir/file.txt");
    CHECK(r.location.segments == segments{"dir", "file.txt"});

    const auto h = post("/uploads/file.txt#frag/..");
    REQUIRE_FALSE(h.error);
    CHECK(h.location.path == "/uploads/file.txt");
    CHECK(h.location.segments == segments{"file.txt"});

    const auto empty_query = post("/uploads/file.txt?");
    REQUIRE_FALSE(empty_query.error);
    CHECK(empty_query.location.segments == segments{"file.txt"});

    // The query does not rescue a directory or a bad path.
    CHECK(post("/uploads/?name=file.txt").error == bits_errc::destination_is_directory);
    CHECK(post("/uploads/..?x").error == bits_errc::bad_destination_path);
}

TEST_CASE("protocol: route decodes each segment exactly once", "[protocol][upload_path]") {
    struct decode_case {
        const char* target;
        segments expected;
    };
    const decode_case c = GENERATE(values<decode_case>({
        {"/uploads/my%20file.txt", {"my file.txt"}},
        {"/uploads/a%41b", {"aAb"}},
        {"/uploads/%7Euser/f", {"~user", "f"}},
        {"/uploads/%252e%252e", {"%2e%2e"}},     // decoded once: a harmless literal
        {"/uploads/%252e%252e/x", {"%2e%2e", "x"}},
        {"/uploads/%252fetc", {"%2fetc"}},
        {"/uploads/%25", {"%"}},
        {"/uploads/.hidden", {".hidden"}},
        {"/uploads/...a", {"...a"}},  // ("..." ends with a dot: see the Windows rules)
        {"/uploads/a.b.c", {"a.b.c"}},
        {"/uploads/%C3%A9t%C3%A9.txt", {"\xC3\xA9t\xC3\xA9.txt"}},  // UTF-8 is fine
        {"/uploads/sub/dir/file", {"sub", "dir", "file"}},
    }));
    CAPTURE(c.target);
    const auto r = post(c.target);
    REQUIRE_FALSE(r.error);
    CHECK(r.location.segments == c.expected);
    CHECK(r.location.path == c.target);  // the path is kept as sent, not decoded
}

TEST_CASE("protocol: route refuses unsafe path segments", "[protocol][upload_path]") {
    const std::string target = GENERATE(values<std::string>({
        "/uploads/..",
        "/uploads/../etc/passwd",
        "/uploads/a/../../etc/passwd",
        "/uploads/a/..",
        "/uploads/.",
        "/uploads/./file",
        "/uploads/a/./b",
        "/uploads/%2e%2e",
        "/uploads/%2E%2e",
        "/uploads/%2e%2E/etc/passwd",
        "/uploads/.%2e",
        "/uploads/%2e.",
        "/uploads/%2e",
        "/uploads/a%2fb",            // encoded slash
        "/uploads/a%2Fb",
        "/uploads/..%2fetc",
        "/uploads/%2f",
        "/uploads/%2fetc%2fpasswd",
        "/uploads/a\\b",             // backslash, raw
        "/uploads/..\\..\\etc",
        "/uploads/a%5cb",            // backslash, encoded
        "/uploads/a%5Cb",
        "/uploads/..%5c..%5cwin.ini",
        std::string("/uploads/a\0b", 12),  // raw NUL
        "/uploads/a%00b",            // encoded NUL
        "/uploads/file.txt%00.jpg",
        "/uploads/a%01b",            // control characters
        "/uploads/a%0ab",
        "/uploads/a%0Db",
        "/uploads/a%1fb",
        "/uploads/a%7fb",
        "/uploads/a\tb",
        "/uploads/a\x01" "b",
        "/uploads/a:b",              // drive / stream syntax
        "/uploads/C:",
        "/uploads/file.txt:stream",
        "/uploads/a%3ab",
        "/uploads/a%3Ab",
        "/uploads//etc/passwd",      // empty segment
        "/uploads/a//b",
        "/uploads/a///b",
        "/uploads/%",                // malformed escapes
        "/uploads/%2",
        "/uploads/a%",
        "/uploads/a%2",
        "/uploads/%zz",
        "/uploads/%g0",
        "/uploads/%0g",
        "/uploads/%%41",
        "/uploads/a/%/b",
        "/uploads/big/..",           // also under the longer prefix
        "/uploads/big//x",
    }));
    CAPTURE(target);
    const auto r = post(target);
    CHECK(r.error == bits_errc::bad_destination_path);
    CHECK(r.location.segments.empty());
}

TEST_CASE("protocol: route answers destination_is_directory for a trailing slash",
          "[protocol][upload_path]") {
    const char* target = GENERATE(values<const char*>({
        "/uploads/",             // the prefix alone
        "/uploads/big/",
        "/other/",
        "/uploads/dir/",
        "/uploads/a/b/",
        "/uploads/dir/?q=1",
        "/uploads/?",
    }));
    CAPTURE(target);
    CHECK(post(target).error == bits_errc::destination_is_directory);
}

TEST_CASE("protocol: percent_decode", "[protocol][upload_path]") {
    CHECK(percent_decode("") == std::string());
    CHECK(percent_decode("abc") == std::string("abc"));
    CHECK(percent_decode("%41%62%7e") == std::string("Ab~"));
    CHECK(percent_decode("%2e%2E") == std::string(".."));
    CHECK(percent_decode("%252e") == std::string("%2e"));
    CHECK(percent_decode("%00") == std::string(1, '\0'));
    CHECK(percent_decode("%ff") == std::string(1, '\xff'));
    CHECK(percent_decode("a+b") == std::string("a+b"));  // '+' is not a space in a path
    // An escape cut short by the end of the view: the bytes after it are not part of the input.
    CHECK_FALSE(percent_decode(std::string_view("%2A", 2)).has_value());
    CHECK_FALSE(percent_decode(std::string_view("a%41", 3)).has_value());
    CHECK(percent_decode(std::string_view("%2A", 3)) == std::string("*"));
    for (const char* bad : {"%", "%2", "%zz", "%2z", "%z2", "a%", "a%4", "%%", "%%41", "%-1", "% 1"}) {
        CAPTURE(bad);
        CHECK_FALSE(percent_decode(bad).has_value());
    }
}

TEST_CASE("protocol: no successful route ever yields an unsafe segment",
          "[protocol][upload_path]") {
    // Random targets over an alphabet rich in path syntax and escapes. Whatever route()
    // accepts must be a list of plain names.
    static const char alphabet[] = {'/', '/', '.', '.', '%', '%', '2', '5', 'e', 'E', 'f', 'F',
                                    'c', 'C', '0', 'a', '\\', ':', '?', ' ', '3', 'A'};
    std::mt19937 rng(20240423);
    std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 1);
    std::uniform_int_distribution<int> length(1, 14);
    int accepted = 0;
    std::vector<std::string> violations;  // "target -> segment" for every unsafe result
    for (int i = 0; i < 50000; ++i) {
        std::string target = "/uploads/";
        const int n = length(rng);
        for (int k = 0; k < n; ++k) target.push_back(alphabet[pick(rng)]);
        const auto r = post(target);
        if (r.error) continue;
        ++accepted;
        if (r.location.segments.empty()) violations.push_back(target + " -> (no segment)");
        for (const std::string& s : r.location.segments) {
            if (s.empty() || s == "." || s == ".." || s.find_first_of(std::string("/\\:\0", 4)) !=
                                                             std::string::npos) {
                violations.push_back(target + " -> [" + s + "]");
            }
        }
    }
    INFO("violations: " << violations.size()
                        << (violations.empty() ? std::string() : ", first: " + violations.front()));
    CHECK(violations.empty());
    CHECK(accepted > 100);  // the generator does reach the success path
}

TEST_CASE("protocol: prefixes are matched on the decoded path, segment by segment",
          "[protocol][upload_path]") {
    // An escaped spelling of a prefix must not reach the looser, shorter prefix.
    const std::vector<std::string> nested{"/uploads/", "/uploads/protected/"};
    struct match_case {
        const char* target;
        std::size_t prefix_index;
        segments expected;
    };
    const match_case c = GENERATE(values<match_case>({
        {"/uploads/%70rotected/keep.txt", 1, {"keep.txt"}},
        {"/uploads/%70%72%6f%74%65%63%74%65%64/keep.txt", 1, {"keep.txt"}},
        {"/uploads/PROTECTED/keep.txt", 0, {"PROTECTED", "keep.txt"}},  // case-sensitive
        {"/%75ploads/protected/a/b", 1, {"a", "b"}},
        {"/%75ploads/x", 0, {"x"}},
        {"/uploads/protected/keep.txt", 1, {"keep.txt"}},
        {"/uploads/protectedx/keep.txt", 0, {"protectedx", "keep.txt"}},
        {"/uploads/%70rotected", 0, {"protected"}},  // a file name, as "/uploads/protected"
    }));
    CAPTURE(c.target);
    const auto r = route("BITS_POST", c.target, nested);
    REQUIRE_FALSE(r.error);
    CHECK(r.location.prefix_index == c.prefix_index);
    CHECK(r.location.segments == c.expected);
    CHECK(r.location.path == c.target);

    // The same for the answers that come from the prefix: directory, 405, and an encoded '/'
    // that must not join two segments into a prefix.
    CHECK(route("BITS_POST", "/uploads/%70rotected/", nested).error == bits_errc::destination_is_directory);
    CHECK(route("GET", "/uploads/%70rotected/x", nested).error == bits_errc::method_not_allowed);
    CHECK(route("BITS_POST", "/uploads%2fprotected/x", nested).error == bits_errc::upload_url_not_found);
    CHECK(route("BITS_POST", "/uploads/protected%2fx", nested).error == bits_errc::bad_destination_path);
    CHECK(route("BITS_POST", "/%75ploads", nested).error == bits_errc::upload_url_not_found);
    CHECK(route("BITS_POST", "/%zzploads/x", nested).error == bits_errc::upload_url_not_found);
}

TEST_CASE("protocol: decoded names must be valid UTF-8", "[protocol][upload_path]") {
    const std::string target = GENERATE(values<std::string>({
        "/uploads/%ff%fe",            // never UTF-8
        "/uploads/%ff",
        "/uploads/a%80b",             // a lone continuation byte
        "/uploads/%c0%ae",            // overlong '.'
        "/uploads/%c0%ae%c0%ae",      // overlong ".."
        "/uploads/%e0%80%ae",         // overlong, three bytes
        "/uploads/%f0%80%80%ae",      // overlong, four bytes
        "/uploads/%c1%bf",
        "/uploads/%ed%a0%80",         // U+D800, a surrogate
        "/uploads/%ed%bf%bf",         // U+DFFF
        "/uploads/%f4%90%80%80",      // above U+10FFFF
        "/uploads/%c3",               // truncated sequences
        "/uploads/%e2%82",
        "/uploads/%f0%9f%98",
        "/uploads/%c3x",
        "/uploads/dir/%e2%82/f",
        "/uploads/\xff\xfe",          // raw, not escaped
        "/uploads/\xc3",
    }));
    CAPTURE(target);
    const auto r = post(target);
    CHECK(r.error == bits_errc::bad_destination_path);
    CHECK(r.location.segments.empty());
    // Well-formed multi-byte sequences stay accepted.
    CHECK_FALSE(post("/uploads/%e2%82%ac%f0%9f%98%80%c3%a9%ef%bf%bd").error);
    CHECK_FALSE(post("/uploads/\xe2\x82\xac").error);
}

TEST_CASE("protocol: names that cannot exist on Windows are refused everywhere",
          "[protocol][upload_path]") {
    const std::string name = GENERATE(values<std::string>({
        "CON", "con", "Con", "PRN", "aux", "NUL", "nul.txt", "Con.tar.gz", "NUL.", "nul .txt",
        "COM1", "com9", "COM5.log", "LPT1", "lpt9.txt",
        "COM%C2%B9", "com%C2%B2.txt", "LPT%C2%B3", "lpt%C2%B9",  // superscript digits
        "a.", "a..", "...", "name ", "name.txt ", "a%20", "a%2e", // trailing dot or space
        "a%3cb", "a%3Eb", "a%22b", "a%7cb", "a%3fb", "a%3Fb", "a*b", "a%2ab", "a:b",
        "a%09b", "a%7f",
    }));
    CAPTURE(name);
    CHECK(post("/uploads/" + name).error == bits_errc::bad_destination_path);
    CHECK(post("/uploads/" + name + "/file").error == bits_errc::bad_destination_path);
    CHECK(post("/uploads/dir/" + name).error == bits_errc::bad_destination_path);
}

TEST_CASE("protocol: names close to Windows device names stay allowed", "[protocol][upload_path]") {
    const std::string name = GENERATE(values<std::string>({
        "CONSOLE", "con1", "NULL", "nul_", "xnul", "COM", "COM0", "COM10", "LPT", "LPT0", "lpt10",
        "auxiliary.txt", "prn-notes", "com1x", "COM%C2%B4", "my.con", "a.nul", ".nul", "a b",
        " a", ".a", "a.b", "a%2eb",
    }));
    CAPTURE(name);
    const auto r = post("/uploads/" + name);
    CHECK_FALSE(r.error);
}
