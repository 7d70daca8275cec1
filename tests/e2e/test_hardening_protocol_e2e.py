"""Hardening of the protocol layer (issue 6, "Hardening what exists"): findings of adversarial
testing, each checked against the real daemon over loopback. Every test starts its own bitsd."""

import os
import unittest

from bitsd_harness import (
    BITS_PROTOCOL_GUID, E_INVALIDARG, KIB, SESSION_ID_RE, BitsAssertions, BitsClient,
    HttpConnection, Server, build_head, ServerTestCase)


class HardeningTestBase(ServerTestCase):

    def exchange(self, srv, head_lines, body=b"", target="/uploads/x.bin", version="HTTP/1.1",
                 host=True):
        """One raw request on a fresh connection, headers exactly as given."""
        headers = list(head_lines)
        if host:
            headers.insert(0, ("Host", f"127.0.0.1:{srv.port}"))
        conn = self.raw(srv)
        return conn.exchange(build_head("BITS_POST", target, headers, version), body)

    def assert_no_error_logged(self, srv):
        bad = [line for line in srv.log_lines() if "[error]" in line or "[critical]" in line]
        self.assertEqual(bad, [], "nothing here may be logged at error level")

    def files_under(self, path):
        found = []
        for dirpath, _, names in os.walk(path):
            found += [os.path.join(dirpath, n) for n in names]
        return found


class RoutingTest(HardeningTestBase):

    def test_escaped_prefix_reaches_the_stricter_prefix(self):
        # /uploads/protected/ refuses overwrites and caps the size; /uploads/ does neither. An
        # escaped spelling of "protected" must not land in the looser prefix.
        root_srv = Server(self)
        protected_dir = os.path.join(root_srv.root, "protected")
        root_srv.config["uploads"] = [
            dict(root_srv.config["uploads"][0], allow_overwrites=True),
            {"url_prefix": "/uploads/protected/", "destination_dir": protected_dir,
             "allow_overwrites": False, "max_upload_size": 8},
        ]
        root_srv.write_config()
        srv = root_srv.start()
        c = BitsClient(srv)
        self.addCleanup(c.reset)

        sid = c.new_session("%70rotected/keep.txt")
        r = c.fragment(sid, b"0123456789", 0, 10, name="%70rotected/keep.txt")
        self.assert_bits_error(r, 500, "0x80200020", sid)  # the stricter prefix's size limit
        c.reset()
        sid = c.new_session("%70rotected/keep.txt")
        self.assert_ok(c.fragment(sid, b"1234", 0, 4, name="%70rotected/keep.txt"), sid)
        self.assert_ok(c.close(sid, "%70rotected/keep.txt"), sid)
        with open(os.path.join(protected_dir, "keep.txt"), "rb") as f:
            self.assertEqual(f.read(), b"1234")
        self.assertEqual(self.files_under(srv.files_dir), [])
        # And its overwrite rule: the file exists, so Create-Session is refused (403).
        r = c.create_session("%70rotected/keep.txt")
        self.assert_bits_error(r, 403, "0x80070005")
        r = c.create_session("protected/keep.txt")
        self.assert_bits_error(r, 403, "0x80070005")


class PathBytesTest(HardeningTestBase):

    def test_non_utf8_names_are_400_and_not_logged_as_errors(self):
        srv, c = self.start()
        for name in ("%ff%fe", "%c0%ae", "%c0%ae%c0%ae/x", "%ed%a0%80.bin", "a%c3", "%e2%82",
                     "dir/%f0%9f%98"):
            with self.subTest(name):
                c.reset()
                self.assert_bits_error(c.create_session(name), 400, E_INVALIDARG)
                self.assert_bits_error(c.ping(name), 400, E_INVALIDARG)
        self.assertEqual(self.files_under(srv.files_dir), [])
        self.assert_no_error_logged(srv)
        # Proper UTF-8 still works.
        c.reset()
        self.assert_ok(c.create_session("%e2%82%ac.txt"))

    def test_windows_names_are_refused_on_every_platform(self):
        srv, c = self.start()
        for name in ("nul.txt", "Con.tar.gz", "CON", "aux", "prn.log", "com1", "LPT9.txt",
                     "COM%C2%B9", "lpt%C2%B3.bin", "trailing.", "trailing%20", "dir./f",
                     "a%3cb", "a%3eb", "a%22b", "a%7cb", "a%3fb", "a*b", "a%2ab", "a%7f",
                     "nul/inner.txt"):
            with self.subTest(name):
                c.reset()
                self.assert_bits_error(c.create_session(name), 400, E_INVALIDARG)
        self.assertEqual(self.files_under(srv.files_dir), [])
        # Near misses are ordinary names.
        for name in ("console.txt", "nullable", "com10", "my.con", "a.b"):
            with self.subTest(name):
                c.reset()
                self.assert_ok(c.create_session(name))


class HeaderStrictnessTest(HardeningTestBase):

    def test_repeated_headers_are_400(self):
        srv, c = self.start()
        sid = c.new_session("dup.bin")
        cases = {
            "two BITS-Packet-Type": [("BITS-Packet-Type", "Ping"),
                                     ("BITS-Packet-Type", "Ping"), ("Content-Length", "0")],
            "two different BITS-Packet-Type": [("BITS-Packet-Type", "Ping"),
                                               ("BITS-Packet-Type", "Cancel-Session"),
                                               ("BITS-Session-Id", sid),
                                               ("Content-Length", "0")],
            "two BITS-Session-Id": [("BITS-Packet-Type", "Close-Session"),
                                    ("BITS-Session-Id", sid), ("BITS-Session-Id", sid),
                                    ("Content-Length", "0")],
            "two Content-Length, same value": [("BITS-Packet-Type", "Ping"),
                                               ("Content-Length", "0"), ("Content-Length", "0")],
            "two Content-Length, different values": [("BITS-Packet-Type", "Ping"),
                                                     ("Content-Length", "0"),
                                                     ("Content-Length", "4")],
        }
        for label, headers in cases.items():
            with self.subTest(label):
                r = self.exchange(srv, headers, target="/uploads/dup.bin")
                self.assert_bits_error(r, 400, E_INVALIDARG)
        with self.subTest("two Content-Range"):
            r = self.exchange(srv, [("BITS-Packet-Type", "Fragment"), ("BITS-Session-Id", sid),
                                    ("Content-Range", "bytes 0-3/4"),
                                    ("Content-Range", "bytes 0-3/8"),
                                    ("Content-Length", "4")], b"abcd", target="/uploads/dup.bin")
            self.assert_bits_error(r, 400, E_INVALIDARG)
        # None of them touched the session: it is still empty, open and usable.
        c.reset()
        r = c.fragment(sid, b"wxyz", 0, 4, name="dup.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 4)
        self.assert_ok(c.close(sid, "dup.bin"), sid)
        with open(srv.file_path("dup.bin"), "rb") as f:
            self.assertEqual(f.read(), b"wxyz")

    def test_host_rules(self):
        srv, c = self.start()
        ping = [("BITS-Packet-Type", "Ping"), ("Content-Length", "0")]
        with self.subTest("HTTP/1.1 without Host"):
            self.assert_bits_error(self.exchange(srv, ping, host=False), 400, E_INVALIDARG)
        with self.subTest("HTTP/1.1 with two Host"):
            r = self.exchange(srv, [("Host", "a.example")] + ping)
            self.assert_bits_error(r, 400, E_INVALIDARG)
        with self.subTest("HTTP/1.0 with two Host"):
            r = self.exchange(srv, [("Host", "a.example")] + ping, version="HTTP/1.0")
            self.assert_bits_error(r, 400, E_INVALIDARG)
        with self.subTest("HTTP/1.0 without Host is fine"):
            self.assert_ok(self.exchange(srv, ping, host=False, version="HTTP/1.0"))
        with self.subTest("HTTP/1.1 with one Host is fine"):
            self.assert_ok(self.exchange(srv, ping))


class NoContentLengthTest(HardeningTestBase):

    def test_bodiless_packets_without_content_length_complete_an_upload(self):
        # Python 2's httplib and other third-party clients send bodiless requests without
        # Content-Length; RFC 9112 6.3 says their body is empty. Fragments still carry one.
        srv, c = self.start()
        conn = self.raw(srv)
        host = ("Host", f"127.0.0.1:{srv.port}")
        target = "/uploads/nolen.bin"

        def send(headers, body=b"", to=target):
            return conn.exchange(build_head("BITS_POST", to, [host] + headers), body)

        self.assert_ok(send([("BITS-Packet-Type", "Ping")]))
        r = send([("BITS-Packet-Type", "Create-Session"),
                  ("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)])
        self.assert_ok(r)
        sid = r.headers.get("BITS-Session-Id")
        self.assertRegex(sid or "", SESSION_ID_RE)
        data = bytes(range(256)) * 40
        step = 3 * KIB
        for off in range(0, len(data), step):
            chunk = data[off:off + step]
            r = send([("BITS-Packet-Type", "Fragment"), ("BITS-Session-Id", sid),
                      ("Content-Range", f"bytes {off}-{off + len(chunk) - 1}/{len(data)}"),
                      ("Content-Length", str(len(chunk)))], chunk)
            self.assert_ok(r, sid)
            self.assert_received(r, off + len(chunk))
        r = send([("BITS-Packet-Type", "Fragment"), ("BITS-Session-Id", sid),
                  ("Content-Range", f"bytes 0-0/{len(data)}")])
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)  # a Fragment needs Content-Length
        conn = self.raw(srv)  # that answer may close the connection
        self.assert_ok(send([("BITS-Packet-Type", "Close-Session"), ("BITS-Session-Id", sid)]),
                       sid)
        with open(srv.file_path("nolen.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

        r = send([("BITS-Packet-Type", "Create-Session"),
                  ("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)], to="/uploads/other.bin")
        self.assert_ok(r)
        other = r.headers.get("BITS-Session-Id")
        self.assert_ok(send([("BITS-Packet-Type", "Cancel-Session"), ("BITS-Session-Id", other)],
                            to="/uploads/other.bin"), other)
        self.assertFalse(os.path.exists(srv.file_path("other.bin")))
        self.assert_server_alive(srv, c)

    def assert_server_alive(self, srv, c):
        srv.assert_alive()
        c.reset()
        self.assert_ok(c.ping())


class SessionIdEchoTest(HardeningTestBase):

    def assert_echo(self, r, sent):
        self.assertEqual(r.headers.get("BITS-Session-Id"), sent,
                         f"BITS-Session-Id must be echoed byte for byte\n{r}")

    def test_session_id_is_echoed_as_sent(self):
        srv, c = self.start()
        sid = c.new_session("echo.bin")
        lower = sid.lower()
        mixed = "".join(ch.lower() if i % 2 else ch for i, ch in enumerate(sid))
        self.assertNotEqual(lower, sid)

        r = c.fragment(lower, b"abcd", 0, 8, name="echo.bin")
        self.assert_ok(r)
        self.assert_echo(r, lower)
        r = c.fragment(mixed, b"zz", 6, 8, name="echo.bin")  # a gap: 416 at offset 4
        self.assertEqual(r.status, 416, str(r))
        self.assert_echo(r, mixed)
        r = c.close(mixed, "echo.bin")  # early Close: 400
        self.assert_bits_error(r, 400, E_INVALIDARG)
        self.assert_echo(r, mixed)
        r = c.fragment(mixed, b"efgh", 4, 8, name="echo.bin")
        self.assert_ok(r)
        self.assert_echo(r, mixed)
        r = c.close(lower, "echo.bin")
        self.assert_ok(r)
        self.assert_echo(r, lower)
        with open(srv.file_path("echo.bin"), "rb") as f:
            self.assertEqual(f.read(), b"abcdefgh")
        # Errors echo too: an unknown id in lower case, and a malformed one.
        ghost = "{0123abcd-0000-4000-8000-00000000abcd}"
        r = c.cancel(ghost, "echo.bin")
        self.assert_bits_error(r, 500, "0x8020001F")
        self.assert_echo(r, ghost)
        r = c.close("not-a-guid", "echo.bin")
        self.assert_bits_error(r, 500, "0x8020001F")
        self.assert_echo(r, "not-a-guid")
        r = c.ping(headers=[("BITS-Session-Id", lower)])
        self.assert_ok(r)
        self.assert_echo(r, lower)


if __name__ == "__main__":
    unittest.main()
