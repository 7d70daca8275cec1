"""Logs (issue 8, item 7): one access line per request (client, session, packet type, range,
status, bytes, duration), rejections included, in text and JSON, at the level access_log_level
chooses; debug and trace add lines info does not have; no credential ever reaches the log."""

import json
import re
import time
import unittest

from bitsd_harness import (BG_E_SESSION_NOT_FOUND, E_INVALIDARG, HttpConnection, ServerTestCase)

SECRET = "c2VjcmV0LXBhc3N3b3JkLTQyNDI="  # what an Authorization header could carry
COOKIE_SECRET = "session-cookie-7f3a9b"
TEXT_ACCESS_RE = re.compile(
    r'access client=(?P<client>\S+) method=(?P<method>-|"[^"]*") path=(?P<path>-|"[^"]*") '
    r'packet=(?P<packet>-|"[^"]*") session=(?P<session>-|"[^"]*") range=(?P<range>-|"[^"]*") '
    r'status=(?P<status>\d+) error=(?P<error>-|"[^"]*") bytes=(?P<bytes>\d+) '
    r'duration_ms=(?P<duration>\d+\.\d{3})$')


def unquote(value):
    return None if value == "-" else value[1:-1]


def wait_for(predicate, what, srv, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"{what}; log:\n{srv.log_text()}")


def server_lines(srv):
    return [line for line in srv.log_lines() if not line.startswith("=== harness")]


def text_access_lines(srv):
    out = []
    for line in server_lines(srv):
        m = TEXT_ACCESS_RE.search(line)
        if m:
            out.append({k: (unquote(v) if k in ("method", "path", "packet", "session", "range", "error") else v)
                        for k, v in m.groupdict().items()})
    return out


def json_lines(srv, testcase):
    out = []
    for line in server_lines(srv):
        try:
            out.append(json.loads(line))
        except ValueError:
            testcase.fail(f"not a JSON line: {line!r}")
    return out


class AccessLogTest(ServerTestCase):

    def exercise(self, client, srv):
        """Sends accepted and rejected requests; returns what the access lines must show."""
        data = b"0123456789" * 100
        self.assert_ok(client.ping(headers=[("Authorization", "Basic " + SECRET),
                                           ("Cookie", "sid=" + COOKIE_SECRET)]))
        sid = client.new_session("logs/a.bin")
        self.assert_ok(client.fragment(sid, data[:600], 0, 1000, name="logs/a.bin"), sid)
        gap = client.fragment(sid, data[800:], 800, 1000, name="logs/a.bin")
        self.assertEqual(gap.status, 416)
        self.assert_bits_error(client.close("{22222222-2222-2222-2222-222222222222}", name="logs/b.bin"),
                               500, BG_E_SESSION_NOT_FOUND)
        self.assertEqual(client.request("BITS_POST", "/outside/x", [("BITS-Packet-Type", "Ping")]).status, 404)
        client.reset()
        # A header bitsd cannot read: answered 400 and logged all the same.
        conn = HttpConnection("127.0.0.1", srv.port, 10)
        self.addCleanup(conn.close)
        conn.send(b"BITS_POST /uploads/x HTTP/1.1\r\nHost: h\r\nBITS-Packet-Type: Ping\r\nBad Header\r\n\r\n")
        self.assertEqual(conn.read_response().status, 400)
        conn.close()
        return sid

    def test_text_access_lines_for_accepted_and_rejected_requests(self):
        srv, client = self.start()
        sid = self.exercise(client, srv)
        lines = wait_for(lambda: len(text_access_lines(srv)) >= 7 and text_access_lines(srv),
                         "seven access lines expected", srv)
        self.assertEqual(len(lines), 7, "\n".join(server_lines(srv)))
        for line in lines:
            self.assertRegex(line["client"], r"^127\.0\.0\.1:\d+$")
            self.assertGreaterEqual(float(line["duration"]), 0.0)
        ping, create, fragment, gap, close, outside, bad = lines
        self.assertEqual((ping["method"], ping["path"], ping["packet"], ping["status"], ping["bytes"]),
                         ("BITS_POST", "/uploads/ping", "Ping", "200", "0"))
        self.assertEqual((create["packet"], create["status"], create["session"]), ("Create-Session", "200", sid))
        self.assertEqual((fragment["packet"], fragment["session"], fragment["range"], fragment["status"],
                          fragment["bytes"], fragment["error"]),
                         ("Fragment", sid, "bytes 0-599/1000", "200", "600", None))
        self.assertEqual((gap["status"], gap["range"], gap["bytes"]), ("416", "bytes 800-999/1000", "200"))
        self.assertEqual((close["packet"], close["status"], close["error"], close["path"]),
                         ("Close-Session", "500", BG_E_SESSION_NOT_FOUND, "/uploads/logs/b.bin"))
        self.assertEqual((outside["path"], outside["status"]), ("/outside/x", "404"))
        self.assertEqual((bad["status"], bad["error"]), ("400", E_INVALIDARG))

    def test_json_format(self):
        srv, client = self.start(extra={"log_format": "json"})
        sid = self.exercise(client, srv)
        wait_for(lambda: sum(1 for d in json_lines(srv, self) if d.get("type") == "access") >= 7,
                 "seven JSON access lines expected", srv)
        docs = json_lines(srv, self)  # every line of the daemon is one JSON object
        for d in docs:
            self.assertIn(d["level"], ("trace", "debug", "info", "warn", "error", "critical"))
            self.assertRegex(d["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertTrue(any("listening on 127.0.0.1:" in d.get("msg", "") for d in docs))
        access = [d for d in docs if d.get("type") == "access"]
        self.assertEqual(len(access), 7)
        fragment = access[2]
        self.assertEqual(fragment["packet_type"], "Fragment")
        self.assertEqual(fragment["session_id"], sid)
        self.assertEqual(fragment["range"], "bytes 0-599/1000")
        self.assertEqual(fragment["status"], 200)
        self.assertEqual(fragment["bytes"], 600)
        self.assertIsNone(fragment["error"])
        self.assertIsInstance(fragment["duration_ms"], float)
        self.assertRegex(fragment["client"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual([(d["status"], d["error"]) for d in access[3:]],
                         [(416, None), (500, BG_E_SESSION_NOT_FOUND), (404, None), (400, E_INVALIDARG)])

    def test_log_format_flag_and_key_are_checked(self):
        srv, client = self.start(extra={"log_format": "json"})
        self.assert_ok(client.ping())
        wait_for(lambda: any(d.get("type") == "access" for d in json_lines(srv, self)), "an access line", srv)

    def test_access_log_level_chooses_where_access_lines_go(self):
        # off: none at all, even with everything else at trace.
        srv, client = self.start(extra={"access_log_level": "off", "log_level": "trace"})
        self.assert_ok(client.ping())
        client.reset()
        wait_for(lambda: any("connection from" in l and "closed" in l for l in server_lines(srv)),
                 "the connection's close at debug", srv)
        self.assertEqual(text_access_lines(srv), [])
        srv.stop()
        # debug while the daemon logs info: hidden; the daemon at debug: shown.
        srv, client = self.start(extra={"access_log_level": "debug", "log_level": "info"})
        self.assert_ok(client.ping())
        self.assert_bits_error(client.close("{33333333-3333-3333-3333-333333333333}"), 500, BG_E_SESSION_NOT_FOUND)
        client.reset()
        time.sleep(0.3)
        self.assertEqual(text_access_lines(srv), [])
        srv.stop()
        srv, client = self.start(extra={"access_log_level": "debug", "log_level": "debug"})
        self.assert_ok(client.ping())
        wait_for(lambda: any("[debug] access client=" in l for l in server_lines(srv)),
                 "an access line at debug", srv)

    def test_debug_and_trace_add_information(self):
        levels = {}
        for level in ("info", "debug", "trace"):
            srv, client = self.start(extra={"log_level": level})
            self.assert_ok(client.ping())
            self.assertEqual(client.request("BITS_POST", "/uploads/x", [("BITS-Packet-Type", "Nonsense")]).status,
                             400)
            client.reset()
            wait_for(lambda: len(text_access_lines(srv)) >= 2, "two access lines", srv)
            time.sleep(0.2)
            srv.stop()
            levels[level] = server_lines(srv)
        info, debug, trace = (set(re.sub(r"^\[[^]]*\] ", "", l) for l in levels[k]) for k in ("info", "debug", "trace"))
        debug_only = [l for l in levels["debug"] if "[debug]" in l]
        self.assertTrue(any(re.search(r"connection from 127\.0\.0\.1:\d+ opened", l) for l in debug_only), debug_only)
        # The refusal's reason, naming the peer and the path.
        self.assertTrue(any("/uploads/x from 127.0.0.1:" in l and "refused" in l for l in debug_only), debug_only)
        trace_only = [l for l in levels["trace"] if "[trace]" in l]
        self.assertTrue(any("request from 127.0.0.1:" in l and "BITS-Packet-Type: Ping;" in l for l in trace_only),
                        trace_only)
        self.assertFalse(any("[debug]" in l or "[trace]" in l for l in levels["info"]))

    def test_no_secret_reaches_the_log_at_any_level(self):
        srv, client = self.start(extra={"log_level": "trace", "log_format": "text"})
        self.exercise(client, srv)
        wait_for(lambda: len(text_access_lines(srv)) >= 7, "seven access lines", srv)
        text = "\n".join(server_lines(srv))
        self.assertIn("Authorization: [redacted]", text)  # the header was seen, its value not kept
        self.assertNotIn(SECRET, text)
        self.assertNotIn(COOKIE_SECRET, text)
        srv.stop()
        srv, client = self.start(extra={"log_level": "trace", "log_format": "json"})
        self.exercise(client, srv)
        wait_for(lambda: sum(1 for d in json_lines(srv, self) if d.get("type") == "access") >= 7,
                 "seven JSON access lines", srv)
        text = "\n".join(server_lines(srv))
        self.assertNotIn(SECRET, text)
        self.assertNotIn(COOKIE_SECRET, text)

    def test_hostile_values_stay_on_one_line(self):
        srv, client = self.start(extra={"log_format": "json"})
        r = client.request("BITS_POST", "/uploads/x", [("BITS-Packet-Type", "Close-Session"),
                                                        ("BITS-Session-Id", '{"x"}\\ end')])
        self.assertEqual(r.status, 500)
        access = wait_for(lambda: [d for d in json_lines(srv, self) if d.get("type") == "access"],
                          "an access line", srv)
        self.assertEqual(access[0]["session_id"], '{"x"}\\ end')


if __name__ == "__main__":
    unittest.main()
