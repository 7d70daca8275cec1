"""A Basic brute force on one upload prefix does not slow another prefix (a load test).

bitsd serves /basic/ with Basic authentication (a yescrypt user, about 12 ms of CPU per check)
and /open/ without authentication. 32 connections, each from its own loopback address, send
wrong passwords to /basic/ as fast as bitsd answers, for a few seconds; the harness turns
limits.auth_failures_per_minute_per_client off, so every guess costs a hash. Meanwhile a client
of /open/ pings and uploads 8 MiB. Password checks run on a pool of their own, never on the I/O
threads: no Ping may take a second, and the upload stays well under its bound (before, with the
checks on the I/O threads, the upload took 14 s here).

The attackers run in a process of their own, so that their threads do not take the measuring
client's interpreter lock.
"""

import base64
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import unittest

from bitsd_harness import MIB, BitsClient, PatternSource, ServerTestCase
from test_auth_e2e import passwd
from test_limits_e2e import BoundConnection

ATTACKERS = 32
ATTACK_MAX_S = 30.0  # the attack stops when the measurements are done, at the latest then
PING_BOUND_S = 1.0
UPLOAD_BOUND_S = 5.0


def brute_force(port, sources, done, counts):
    """Wrong passwords from every source address, one connection each, until `done` is set."""
    stop = time.monotonic() + ATTACK_MAX_S

    def attack(i, source):
        sent = 0
        conn = None
        while not done.is_set() and time.monotonic() < stop:
            try:
                if conn is None or conn.closed:
                    conn = BoundConnection("127.0.0.1", port, source, 30)
                auth = base64.b64encode(f"alice:guess{i}-{sent}".encode()).decode()
                head = (f"BITS_POST /basic/x HTTP/1.1\r\nHost: b\r\nBITS-Packet-Type: Ping\r\n"
                        f"Authorization: Basic {auth}\r\nContent-Length: 0\r\n\r\n").encode()
                r = conn.exchange(head, b"")
                sent += 1
                if not r.keep_alive():
                    conn.close()
            except OSError:
                if conn is not None:
                    conn.close()
                conn = None
        counts[i] = sent
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=attack, args=(i, s)) for i, s in enumerate(sources)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class BasicBruteForceLoadTest(ServerTestCase):

    def test_a_brute_force_on_a_basic_prefix_does_not_slow_another_prefix(self):
        folder = tempfile.mkdtemp(prefix="bitsd-brute-")
        self.addCleanup(shutil.rmtree, folder, True)
        rc, alice, err = passwd("alice", "the right one")  # yescrypt, bitsd's default
        self.assertEqual(rc, 0, err)
        credentials = os.path.join(folder, "users.passwd")
        with open(credentials, "w") as f:
            f.write(alice)
        open_dir = os.path.join(folder, "open")
        srv, _ = self.start(extra={"uploads": [
            {"url_prefix": "/basic/", "destination_dir": os.path.join(folder, "basic"),
             "auth": {"type": "basic", "credentials_file": credentials, "realm": "R",
                      "allow_basic_without_tls": True}},
            {"url_prefix": "/open/", "destination_dir": open_dir},
        ]})
        client = BitsClient(srv, prefix="/open/")
        self.addCleanup(client.reset)
        self.assertEqual(client.ping().status, 200)

        ctx = multiprocessing.get_context("fork")
        counts = ctx.Array("i", ATTACKERS)
        sources = [f"127.0.3.{i + 1}" for i in range(ATTACKERS)]
        done = ctx.Event()
        attackers = ctx.Process(target=brute_force, args=(srv.port, sources, done, counts))
        attackers.start()
        self.addCleanup(attackers.join, 30)
        self.addCleanup(done.set)
        time.sleep(0.5)  # the attack is under way

        pings = []
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            started = time.monotonic()
            r = client.ping()
            pings.append(time.monotonic() - started)
            self.assertEqual(r.status, 200, str(r))
            time.sleep(0.01)
        data = PatternSource(8 * MIB, 5)
        started = time.monotonic()
        result = client.upload_file(data, "eight.bin", MIB)
        upload_s = time.monotonic() - started
        self.assert_ok(client.close(result.session_id, "eight.bin"), result.session_id)
        done.set()
        attackers.join(30)
        self.assertFalse(attackers.is_alive(), "the attackers did not stop")

        self.assert_file(os.path.join(open_dir, "eight.bin"), data.sha256(), data.size)
        self.assertGreater(sum(counts), ATTACKERS, "the attackers sent next to nothing")
        pings.sort()
        p99 = pings[int(len(pings) * 0.99) - 1] if len(pings) >= 100 else pings[-1]
        summary = (f"{len(pings)} pings, p50 {pings[len(pings) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                   f"max {pings[-1] * 1000:.1f} ms; 8 MiB upload {upload_s:.2f} s; "
                   f"{sum(counts)} wrong passwords sent")
        self.assertLess(pings[-1], PING_BOUND_S, summary)
        self.assertLess(upload_s, UPLOAD_BOUND_S, summary)


if __name__ == "__main__":
    unittest.main()
