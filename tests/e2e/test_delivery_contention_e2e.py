"""Deliveries that a client must not be able to hold up, end to end: the real bitsd, real
back-end processes (backend_server.py) on loopback.

- The outbox's slots: clients that keep their own sessions busy (a duplicate Fragment whose body
  trickles in) must not stop another user's async delivery.
- limits.max_sync_deliveries: beyond it, a final Fragment that would start a sync delivery is
  answered 503 + Retry-After (transient for Windows), its bytes kept; its retry delivers.
"""

import os
import subprocess
import tempfile
import threading
import time
import unittest

from bitsd_harness import BitsClient, HttpConnection, ServerTestCase, build_head
from test_delivery_async_e2e import Backend, header

# More than the outbox's attempts in flight at once (16).
HOLDING_CONNECTIONS = 20


class BackendTestCase(ServerTestCase):
    """A test that starts its own back-end processes, in a temp dir of its own."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bitsd-delivery-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def backend(self):
        b = Backend(self.tmp)
        self.addCleanup(b.stop)
        return b


class DeliveryContentionTest(BackendTestCase):

    def prefix(self, name, backend, delivery="async", **notification):
        n = {"type": "reference", "url": f"http://127.0.0.1:{backend.port}/ingest",
             "timeout_s": 10, "delivery": delivery,
             "retry": {"initial_s": 1, "max_s": 2, "give_up_after_s": 3600}}
        n.update(notification)
        return {"url_prefix": f"/{name}/", "destination_dir": os.path.join(self.tmp, name),
                "notification": n}

    def wait_delivered(self, backend, session, within_s, srv):
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if any(header(r, "BITS-Session-Id") == session for r in backend.requests()):
                return
            time.sleep(0.1)
        self.fail(f"{session} did not reach its back-end within {within_s} s\n{srv.log_text(40)}")

    def test_duplicate_fragments_trickling_do_not_stop_other_deliveries(self):
        # The attacker's uploads go to a back-end that always answers 503: the outbox retries
        # them every second or two, for ever.
        failing, working = self.backend(), self.backend()
        failing.control({"default": {"status": 503}})
        srv, _ = self.start(extra={"uploads": [self.prefix("a", failing), self.prefix("g", working)]})
        attacker = BitsClient(srv, prefix="/a/")
        self.addCleanup(attacker.reset)
        data = b"x" * 4096
        sessions = []
        for i in range(HOLDING_CONNECTIONS):
            session = attacker.new_session(f"a{i}.bin")
            self.assert_ok(attacker.fragment(session, data, 0, len(data), name=f"a{i}.bin"), session)
            sessions.append(session)

        # Each session: the whole file again as a duplicate Fragment, its body trickling in (one
        # byte now, more later, as slow as the minimum rate allows).
        holders = []
        for i, session in enumerate(sessions):
            conn = HttpConnection("127.0.0.1", srv.port, timeout=30)
            self.addCleanup(conn.close)
            conn.send(build_head("BITS_POST", f"/a/a{i}.bin", [
                ("Host", f"127.0.0.1:{srv.port}"), ("BITS-Packet-Type", "Fragment"),
                ("BITS-Session-Id", session), ("Content-Name", f"a{i}.bin"),
                ("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}"),
                ("Content-Length", str(len(data)))]) + b"x")
            holders.append(conn)
        # Long enough for every attacker session's next retry to come due.
        for _ in range(3):
            time.sleep(1)
            for conn in holders:
                conn.send(b"x")

        user = BitsClient(srv, prefix="/g/")
        self.addCleanup(user.reset)
        session = user.new_session("g.bin")
        self.assert_ok(user.fragment(session, b"g" * 1000, 0, 1000, name="g.bin"), session)
        self.wait_delivered(working, session, 8.0, srv)

        # The trickling Fragments still get their Ack (the whole file, stored already) once
        # their bodies are in.
        for conn in holders[:3]:
            conn.send(b"x" * (len(data) - 4))
            response = conn.read_response()
            self.assertEqual(response.status, 200, str(response))
            self.assertEqual(response.headers.get("BITS-Received-Content-Range"), str(len(data)))

    def test_sync_deliveries_beyond_the_limit_are_answered_busy(self):
        backend = self.backend()
        backend.control({"queue": [{"stall_s": 3}], "default": {"status": 200}})
        limits = {"max_connections": 1000000, "max_connections_per_client": 0,
                  "max_open_sessions_per_client": 0, "create_sessions_per_minute_per_client": 0,
                  "min_free_disk_bytes": 0, "min_free_inodes": 0, "max_sync_deliveries": 1}
        srv, _ = self.start(extra={"uploads": [self.prefix("s", backend, "sync")], "limits": limits})
        first, second = BitsClient(srv, prefix="/s/"), BitsClient(srv, prefix="/s/")
        for c in (first, second):
            self.addCleanup(c.reset)
        slow = first.new_session("slow.bin")
        other = second.new_session("other.bin")
        answers = {}
        # The first final Fragment holds the only sync delivery while the back-end stalls.
        worker = threading.Thread(target=lambda: answers.update(
            slow=first.fragment(slow, b"s" * 3000, 0, 3000, name="slow.bin")))
        worker.start()
        deadline = time.monotonic() + 10
        while not backend.requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(backend.requests(), "the first delivery never reached the back-end")
        refused = second.fragment(other, b"o" * 2000, 0, 2000, name="other.bin")
        self.assertEqual(refused.status, 503, str(refused))
        self.assertEqual(refused.error_code(), "0x801901F7", str(refused))
        self.assertIn("Retry-After", refused.headers)
        worker.join(30)
        self.assert_ok(answers["slow"], slow)
        # The bytes were kept: the client's retry of the final Fragment delivers.
        retried = second.fragment(other, b"o" * 2000, 0, 2000, name="other.bin")
        self.assert_ok(retried, other)
        self.assertEqual(retried.received(), 2000)
        sessions = [header(r, "BITS-Session-Id") for r in backend.requests()]
        self.assertEqual(sessions.count(other), 1)


if __name__ == "__main__":
    unittest.main()
