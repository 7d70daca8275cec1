"""Delivery settings follow a SIGHUP reload (issue 8 item 3, with issue 7's delivery).

The real bitsd, real back-end processes (backend_server.py) on loopback: a reload that moves a
prefix's notification URL to a second back-end sends the next upload there; a reload that adds a
notification (async) to a prefix that had none delivers the next upload; a reload whose
signing_secret_file is bad is refused and the old back-end keeps receiving; a pending async
delivery whose prefix loses its notification in a reload is dead-lettered, not kept forever, and
one whose prefix becomes sync is delivered by the outbox with the prefix's new notification.
"""

import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import ServerTestCase, bitsd_binary
from test_delivery_async_e2e import Backend, free_port, header

DELIVERY_TIMEOUT_S = 40.0  # generous: the machine is shared and loaded


class DeliveryReloadTest(ServerTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bitsd-reload-delivery-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def backend(self, port=0):
        b = Backend(self.tmp, port)
        self.addCleanup(b.stop)
        return b

    @staticmethod
    def notification(port, delivery="sync", **extra):
        n = {"type": "reference", "url": f"http://127.0.0.1:{port}/ingest", "timeout_s": 10,
             "delivery": delivery, "retry": {"initial_s": 1, "max_s": 2, "give_up_after_s": 3600}}
        n.update(extra)
        return n

    def reload(self, srv):
        """Rewrites the config, sends SIGHUP, waits for the outcome line; returns it."""
        mark = len(srv.log_lines())
        srv.write_config()
        os.kill(srv.pid, signal.SIGHUP)
        return self.wait_for("the reload's outcome", lambda: next(
            (line for line in srv.log_lines()[mark:]
             if re.search(r"configuration reloaded|reload refused", line)), None), srv=srv)

    def upload(self, client, name, data):
        session = client.new_session(name)
        ack = client.fragment(session, data, 0, len(data), name=name)
        self.assert_ok(ack, session)
        return session, ack

    def deliveries(self, srv):
        """`bitsd deliveries list --all`: {session id: row}."""
        result = subprocess.run([bitsd_binary(), "deliveries", "list", "--all", "--config", srv.config_path],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {}
        for line in result.stdout.splitlines()[1:]:
            parts = line.split(None, 4)
            rows[parts[0]] = {"state": parts[1], "attempts": int(parts[2]),
                              "last_error": parts[4] if len(parts) > 4 else ""}
        return rows

    def wait_for(self, what, predicate, timeout=DELIVERY_TIMEOUT_S, srv=None):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}\n{srv.log_text(60) if srv else ''}")
            time.sleep(0.2)

    # -- cases -----------------------------------------------------------------------------

    def test_a_new_notification_url_sends_the_next_upload_to_the_new_backend(self):
        first, second = self.backend(), self.backend()
        for b in (first, second):
            b.control({"default": {"status": 200}})
        srv, client = self.start(upload={"notification": self.notification(first.port)})
        one, ack = self.upload(client, "one.bin", os.urandom(20_000))
        self.assertIn("BITS-Reply-URL", ack.headers)  # sync: delivered before the Ack
        self.assertEqual([header(r, "BITS-Session-Id") for r in first.requests()], [one])

        srv.config["uploads"][0]["notification"] = self.notification(second.port)
        self.assertIn("configuration reloaded", self.reload(srv))
        two, ack = self.upload(client, "two.bin", os.urandom(30_000))
        self.assertIn("BITS-Reply-URL", ack.headers)
        self.assertEqual([header(r, "BITS-Session-Id") for r in second.requests()], [two])
        self.assertEqual(len(first.requests()), 1, "the old back-end got the upload after the reload")
        # The first upload's reply is still served, and both close normally.
        self.assert_ok(client.close(one, "one.bin"), one)
        self.assert_ok(client.close(two, "two.bin"), two)

    def test_a_notification_added_by_a_reload_delivers_the_next_upload(self):
        backend = self.backend()
        backend.control({"default": {"status": 200}})
        srv, client = self.start()  # no notification: plain uploads, no outbox work
        plain, _ = self.upload(client, "plain.bin", b"p" * 5000)
        self.assert_ok(client.close(plain, "plain.bin"), plain)
        self.assertTrue(os.path.exists(srv.file_path("plain.bin")))

        srv.config["uploads"][0]["notification"] = self.notification(backend.port, delivery="async")
        self.assertIn("configuration reloaded", self.reload(srv))
        session, ack = self.upload(client, "late.bin", os.urandom(40_000))
        self.assertNotIn("BITS-Reply-URL", ack.headers)  # async: the outbox delivers
        self.wait_for("the delivery", lambda: self.deliveries(srv).get(session, {}).get("state") == "delivered",
                      srv=srv)
        self.assertEqual([header(r, "BITS-Session-Id") for r in backend.requests()], [session])
        self.assertFalse(os.path.exists(srv.file_path("late.bin")))  # the back-end has it

    def test_a_reload_with_a_bad_signing_secret_file_is_refused_and_changes_nothing(self):
        first, second = self.backend(), self.backend()
        for b in (first, second):
            b.control({"default": {"status": 200}})
        srv, client = self.start(upload={"notification": self.notification(first.port)})
        missing = os.path.join(self.tmp, "missing.key")
        srv.config["uploads"][0]["notification"] = self.notification(second.port, signing_secret_file=missing)
        line = self.reload(srv)
        self.assertIn("reload refused", line)
        self.assertIn("uploads[0].notification.signing_secret_file", line)
        session, _ = self.upload(client, "kept.bin", os.urandom(10_000))
        self.assertEqual([header(r, "BITS-Session-Id") for r in first.requests()], [session])
        self.assertEqual(second.requests(), [])

    def test_a_pending_async_delivery_whose_prefix_stops_notifying_is_dead_lettered(self):
        port = free_port()  # nothing listens: every attempt fails, the delivery stays owed
        srv, client = self.start(upload={"notification": self.notification(port, delivery="async")})
        session, _ = self.upload(client, "owed.bin", os.urandom(10_000))
        self.wait_for("a failed attempt", lambda: self.deliveries(srv).get(session, {}).get("attempts", 0) >= 1,
                      srv=srv)
        del srv.config["uploads"][0]["notification"]
        self.assertIn("configuration reloaded", self.reload(srv))
        row = self.wait_for("the dead letter", lambda: (lambda r: r if r.get("state") == "dead_lettered" else None)(
            self.deliveries(srv).get(session, {})), srv=srv)
        self.assertIn("no longer notifies a back-end", row["last_error"])

    def test_a_pending_async_delivery_whose_prefix_becomes_sync_is_still_delivered(self):
        port = free_port()  # nothing listens yet: the delivery stays owed
        srv, client = self.start(upload={"notification": self.notification(port, delivery="async")})
        session, _ = self.upload(client, "owed.bin", os.urandom(10_000))
        self.wait_for("a failed attempt", lambda: self.deliveries(srv).get(session, {}).get("attempts", 0) >= 1,
                      srv=srv)
        backend = self.backend()
        backend.control({"default": {"status": 200}})
        # Its client was answered long ago: only the outbox can deliver it, with the prefix's
        # current notification.
        srv.config["uploads"][0]["notification"] = self.notification(backend.port, delivery="sync")
        self.assertIn("configuration reloaded", self.reload(srv))
        self.wait_for("the delivery", lambda: self.deliveries(srv).get(session, {}).get("state") == "delivered",
                      srv=srv)
        self.assertEqual({header(r, "BITS-Session-Id") for r in backend.requests()}, {session})


if __name__ == "__main__":
    unittest.main()
