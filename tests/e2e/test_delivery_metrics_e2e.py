"""Delivery metrics on /metrics (issue 8 item 5, "deliveries once they exist").

The real bitsd with two prefixes, one async and one sync, each notifying a real back-end process
(backend_server.py) that fails on demand. After the deliveries have run, the strictly parsed
Prometheus text must match what happened: attempts by mode and outcome, the dead letter, the
deliveries owed (none), the dead-lettered record in the store, and one latency observation per
attempt.
"""

import os
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import BitsClient, ServerTestCase, bitsd_binary
from test_admin_e2e import AdminClient, value_of
from test_delivery_async_e2e import Backend

DELIVERY_TIMEOUT_S = 40.0  # generous: the machine is shared and loaded


class DeliveryMetricsTest(ServerTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bitsd-delivery-metrics-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def backend(self):
        b = Backend(self.tmp)
        self.addCleanup(b.stop)
        return b

    def deliveries(self, srv):
        result = subprocess.run([bitsd_binary(), "deliveries", "list", "--all", "--config", srv.config_path],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {}
        for line in result.stdout.splitlines()[1:]:
            parts = line.split(None, 4)
            rows[parts[0]] = {"state": parts[1], "attempts": int(parts[2])}
        return rows

    def test_counters_match_what_the_backends_saw(self):
        async_backend, sync_backend = self.backend(), self.backend()
        async_backend.control({"queue": [{"status": 503, "count": 2}], "default": {"status": 200}})
        sync_backend.control({"queue": [{"status": 404}], "default": {"status": 200}})

        def prefix(name, backend, delivery):
            return {"url_prefix": f"/{name}/", "destination_dir": os.path.join(self.tmp, name),
                    "notification": {"type": "reference", "url": f"http://127.0.0.1:{backend.port}/ingest",
                                     "timeout_s": 10, "delivery": delivery,
                                     "retry": {"initial_s": 1, "max_s": 1, "give_up_after_s": 3600}}}

        srv, _ = self.start(extra={"uploads": [prefix("a", async_backend, "async"),
                                               prefix("s", sync_backend, "sync")]})
        admin = AdminClient(srv.admin_port())
        async_client, sync_client = BitsClient(srv, prefix="/a/"), BitsClient(srv, prefix="/s/")
        for c in (async_client, sync_client):
            self.addCleanup(c.reset)

        # async: 503, 503, 200 -> two transient failures and a delivery, in the background.
        queued = async_client.new_session("q.bin")
        self.assert_ok(async_client.fragment(queued, b"a" * 3000, 0, 3000, name="q.bin"), queued)
        # sync: 404 (fatal: dead-lettered, the client gets the error), then a delivered upload.
        refused = sync_client.new_session("r.bin")
        r = sync_client.fragment(refused, b"r" * 2000, 0, 2000, name="r.bin")
        self.assertEqual(r.status, 404, str(r))
        accepted = sync_client.new_session("k.bin")
        self.assert_ok(sync_client.fragment(accepted, b"k" * 1000, 0, 1000, name="k.bin"), accepted)

        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while self.deliveries(srv).get(queued, {}).get("state") != "delivered":
            if time.monotonic() > deadline:
                self.fail("the async upload was not delivered\n" + srv.log_text(60))
            time.sleep(0.2)
        rows = self.deliveries(srv)
        self.assertEqual(rows[queued]["attempts"], 3)
        self.assertEqual(rows[refused]["state"], "dead_lettered")
        self.assertEqual(rows[accepted]["state"], "delivered")
        self.assertGreaterEqual(len(async_backend.requests()), 3)
        self.assertGreaterEqual(len(sync_backend.requests()), 2)

        m = admin.metrics()
        attempts = lambda mode, outcome: value_of(m, "bitsd_delivery_attempts_total", mode=mode, outcome=outcome)
        self.assertEqual(attempts("async", "failed_transient"), 2)
        self.assertEqual(attempts("async", "delivered"), 1)
        self.assertEqual(attempts("async", "failed_fatal"), 0)
        self.assertEqual(attempts("sync", "failed_fatal"), 1)
        self.assertEqual(attempts("sync", "delivered"), 1)
        self.assertEqual(attempts("sync", "failed_transient"), 0)
        self.assertEqual(m["bitsd_delivery_attempts_total"]["type"], "counter")
        self.assertEqual(value_of(m, "bitsd_deliveries_dead_lettered_total"), 1)
        self.assertEqual(value_of(m, "bitsd_deliveries_owed"), 0)
        self.assertEqual(value_of(m, "bitsd_deliveries", state="dead_lettered"), 1)
        self.assertEqual(value_of(m, "bitsd_deliveries", state="finalised"), 0)
        self.assertEqual(m["bitsd_delivery_duration_seconds"]["type"], "histogram")
        self.assertEqual(value_of(m, "bitsd_delivery_duration_seconds", "bitsd_delivery_duration_seconds_count"), 5)


if __name__ == "__main__":
    unittest.main()
