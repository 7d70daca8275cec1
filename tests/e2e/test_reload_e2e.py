"""SIGHUP reloads the configuration (issue 8, item 3).

A new limit or prefix applies to the requests that start after the reload, without dropping a
connection: a fragment in flight finishes under the settings it started with, and the same
keep-alive connection then serves the next request under the new ones. A bad configuration is
refused with a logged reason naming the key, and the old one keeps serving. Keys only a restart
can change are reported and ignored.
"""

import json
import os
import re
import signal
import time
import unittest

from bitsd_harness import (KIB, MIB, BitsAssertions, BitsClient, HttpConnection,
                           PatternSource, Server, build_head)


def wait_for_log(srv, pattern, start, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = srv.log_lines()[start:]
        for line in lines:
            if re.search(pattern, line):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n"
                         f"{srv.log_text()}")


def fragment_head(server, session, first, length, total, name="file.bin", prefix="/uploads/"):
    headers = [("Host", f"127.0.0.1:{server.port}"), ("BITS-Packet-Type", "Fragment"),
               ("BITS-Session-Id", session), ("Content-Name", name),
               ("Content-Range", f"bytes {first}-{first + length - 1}/{total}"),
               ("Content-Length", str(length))]
    return build_head("BITS_POST", f"{prefix}{name}", headers)


def bits_head(server, packet, target, session=None, extra=()):
    headers = [("Host", f"127.0.0.1:{server.port}"), ("BITS-Packet-Type", packet)]
    if session:
        headers.append(("BITS-Session-Id", session))
    headers += list(extra)
    headers.append(("Content-Length", "0"))
    return build_head("BITS_POST", target, headers)


class ReloadTest(BitsAssertions, unittest.TestCase):

    def start(self, **kw):
        srv = Server(self, **kw).start()
        client = BitsClient(srv)
        self.addCleanup(client.reset)
        return srv, client

    def reload(self, srv):
        """Rewrites the config, sends SIGHUP, waits for the outcome line; returns it."""
        mark = len(srv.log_lines())
        srv.write_config()
        os.kill(srv.pid, signal.SIGHUP)
        return wait_for_log(srv, r"configuration reloaded|reload refused", mark)

    def test_a_new_limit_and_prefix_apply_without_dropping_an_upload_in_flight(self):
        srv, client = self.start(max_fragment_size=MIB)
        total = 4 * MIB
        source = PatternSource(total, seed=91)
        session = client.new_session("big.bin")
        conn = HttpConnection("127.0.0.1", srv.port, 30)
        self.addCleanup(conn.close)
        # A fragment of 1 MiB (allowed now) is half sent when the limit drops to 256 KiB.
        conn.send(fragment_head(srv, session, 0, MIB, total, "big.bin"))
        conn.send(source.read(0, MIB // 2))
        new_dir = os.path.join(srv.root, "new-files")
        srv.config["max_fragment_size"] = 256 * KIB
        srv.config["uploads"].append({"url_prefix": "/new/", "destination_dir": new_dir})
        line = self.reload(srv)
        self.assertIn("configuration reloaded", line, srv.log_text())
        self.assertIn("max_fragment_size", line)
        self.assertIn("uploads", line)
        # The fragment in flight finishes under the limit it started with.
        conn.send(source.read(MIB // 2, MIB - MIB // 2))
        r = conn.read_response()
        self.assert_ok(r, session)
        self.assert_received(r, MIB)
        self.assertTrue(r.keep_alive(), str(r))
        # The same connection serves the new prefix, and the next 1 MiB fragment meets the
        # new limit.
        conn.send(bits_head(srv, "Ping", "/new/ping"))
        self.assertEqual(conn.read_response().status, 200)
        conn.send(bits_head(srv, "Create-Session", "/new/n.bin", extra=[
            ("BITS-Supported-Protocols", "{7df0354d-249b-430f-820d-3d2a9bef4931}")]))
        r = conn.read_response()
        self.assertEqual(r.status, 200, str(r))
        new_session = r.headers["BITS-Session-Id"]
        self.assertTrue(os.path.isdir(new_dir), "the new destination is created on reload")
        conn.send(fragment_head(srv, session, MIB, MIB, total, "big.bin"))
        r = conn.read_response()
        self.assertEqual(r.status, 413, str(r))
        # The upload goes on in small fragments and lands whole; so does one on the new prefix.
        client.reset()
        for first in range(MIB, total, 256 * KIB):
            self.assert_ok(client.fragment(session, source, first, total, "big.bin", n=256 * KIB))
        self.assert_ok(client.close(session, "big.bin"), session)
        self.assert_file(srv.file_path("big.bin"), source.sha256(), total)
        self.assert_ok(client.fragment(new_session, b"hello", 0, 5, "/new/n.bin"))
        self.assert_ok(client.close(new_session, "/new/n.bin"), new_session)
        with open(os.path.join(new_dir, "n.bin"), "rb") as f:
            self.assertEqual(f.read(), b"hello")

    def test_a_smaller_max_upload_size_applies_to_new_sessions(self):
        srv, client = self.start()
        self.assertEqual(client.ping().status, 200)
        srv.config["uploads"][0]["max_upload_size"] = 1000
        self.assertIn("configuration reloaded", self.reload(srv))
        session = client.new_session("limited.bin")
        r = client.fragment(session, b"x" * 10, 0, 2000, "limited.bin")
        self.assert_bits_error(r, 500, "0x80200020", session)

    def test_a_bad_config_is_refused_and_the_old_one_keeps_serving(self):
        srv, client = self.start()
        self.assertEqual(client.ping().status, 200)
        conn = client.conn
        good = json.loads(json.dumps(srv.config))
        bad_cases = [
            ({"max_fragment_size": 0}, r"max_fragment_size: expected a positive integer"),
            ({"uploads": [{"url_prefix": "nope", "destination_dir": srv.files_dir}]},
             r"uploads\[0\]\.url_prefix: must start"),
            ({"shutdown_timeout_s": -1}, r"shutdown_timeout_s: expected"),
            ({"no_such_key": 1}, r"unknown key \"no_such_key\""),
            ({"uploads": [{"url_prefix": "/uploads/",
                           "destination_dir": os.path.join(srv.data_dir, "sessions", "x")}]},
             r"uploads\[0\]\.destination_dir: overlaps data_dir"),
        ]
        for change, reason in bad_cases:
            srv.config = json.loads(json.dumps(good))
            srv.config.update(change)
            line = self.reload(srv)
            self.assertIn("reload refused", line)
            self.assertRegex(line, reason)
            # The old configuration keeps serving, on the same connection.
            self.assertEqual(client.ping().status, 200, srv.log_text())
            self.assertIs(client.conn, conn, "the connection was dropped")
        # Broken JSON too.
        mark = len(srv.log_lines())
        with open(srv.config_path, "w") as f:
            f.write("{ not json")
        os.kill(srv.pid, signal.SIGHUP)
        self.assertRegex(wait_for_log(srv, r"reload refused", mark), r"invalid JSON")
        session = client.new_session("still.bin")
        self.assert_ok(client.fragment(session, b"abc", 0, 3, "still.bin"))
        self.assert_ok(client.close(session, "still.bin"), session)
        srv.assert_alive()

    def test_settings_that_need_a_restart_are_reported_and_ignored(self):
        srv, client = self.start()
        self.assertEqual(client.ping().status, 200)
        srv.config["listen"] = ["127.0.0.1:0", "127.0.0.2:0"]
        srv.config["data_dir"] = os.path.join(srv.root, "elsewhere")
        srv.config["log_level"] = "debug"
        line = self.reload(srv)
        self.assertIn("configuration reloaded", line)
        log = srv.log_text()
        self.assertRegex(log, r"listen changed: needs a restart")
        self.assertRegex(log, r"data_dir changed: needs a restart")
        self.assertFalse(os.path.exists(os.path.join(srv.root, "elsewhere")))
        self.assertEqual(client.ping().status, 200)
        # log_level applies at once: a debug line appears for a refused request.
        mark = len(srv.log_lines())
        r = client.request("BITS_POST", "/elsewhere/x", [("BITS-Packet-Type", "Ping")])
        self.assertEqual(r.status, 404)
        wait_for_log(srv, r"refused", mark, timeout=5)


if __name__ == "__main__":
    unittest.main()
