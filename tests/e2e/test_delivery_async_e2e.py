"""Async delivery end to end (issue 7, items 4 and 7): the real bitsd, a real back-end process
(backend_server.py) on loopback, and `bitsd deliveries list|retry` on the data_dir.

With "delivery": "async" the final fragment's Ack goes out once the file is finalised on disk;
the outbox delivers in the background with backoff, across back-end outages and bitsd crashes,
and moves deliveries that give up to a dead-letter state the operator re-drives. Every case
ends with every upload delivered and all attempts of one upload carrying one Idempotency-Key.
Retry times are the configuration's minimum (initial_s 1, max_s 2) to keep the tests short.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from bitsd_harness import ServerTestCase, bitsd_binary

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = os.path.join(HERE, "backend_server.py")

DELIVERY_TIMEOUT_S = 40.0  # generous: the machine is shared and loaded


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend:
    """backend_server.py as its own process, on a given or a free port."""

    def __init__(self, directory, port=0):
        self.log = os.path.join(directory, f"backend-{time.monotonic_ns()}.jsonl")
        self.process = subprocess.Popen(
            [sys.executable, BACKEND, "--log", self.log, "--port", str(port)],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def control(self, state):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            body = json.dumps(state).encode()
            s.sendall(b"POST /_control HTTP/1.1\r\nHost: b\r\nConnection: close\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        if b" 204 " not in answer.split(b"\r\n", 1)[0]:
            raise AssertionError(f"control refused: {answer!r}")

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


def header(request, name):
    for key, value in request["headers"]:
        if key.lower() == name.lower():
            return value
    return None


class AsyncDeliveryTest(ServerTestCase):
    def backend(self, port=0):
        b = Backend(self.tmp, port)
        self.addCleanup(b.stop)
        return b

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bitsd-async-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def start_async(self, port, give_up_after_s=3600, timeout_s=5, **kw):
        notification = {
            "type": "reference",
            "url": f"http://127.0.0.1:{port}/ingest",
            "timeout_s": timeout_s,
            "delivery": "async",
            "retry": {"initial_s": 1, "max_s": 2, "give_up_after_s": give_up_after_s},
        }
        return self.start(upload={"notification": notification}, **kw)

    def upload(self, client, name, data):
        """Create-Session, one Fragment with the whole file, Close-Session. Returns the session
        id, the final fragment's Ack and how long it took."""
        session = client.new_session(name)
        started = time.monotonic()
        ack = client.fragment(session, data, 0, len(data), name=name)
        elapsed = time.monotonic() - started
        self.assert_ok(ack, session)
        self.assertEqual(ack.received(), len(data))
        return session, ack, elapsed

    # -- the CLI ---------------------------------------------------------------------------

    def cli(self, srv, *args):
        return subprocess.run([bitsd_binary(), "deliveries", *args, "--config", srv.config_path],
                              capture_output=True, text=True, timeout=60)

    def deliveries(self, srv, *flags):
        """`bitsd deliveries list --all`: {session id: row}."""
        result = self.cli(srv, "list", *(flags or ("--all",)))
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertTrue(lines[0].startswith("ID"), result.stdout)
        rows = {}
        for line in lines[1:]:
            parts = line.split(None, 4)
            rows[parts[0]] = {"state": parts[1], "attempts": int(parts[2]), "next": parts[3],
                              "last_error": parts[4] if len(parts) > 4 else ""}
        return rows

    def wait_for(self, what, predicate, timeout=DELIVERY_TIMEOUT_S, srv=None):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                log = srv.log_text(60) if srv else ""
                self.fail(f"timed out waiting for {what}\n{log}")
            time.sleep(0.2)

    def wait_state(self, srv, session, state):
        return self.wait_for(f"{session} {state}",
                             lambda: self.deliveries(srv).get(session, {}).get("state") == state
                             and self.deliveries(srv)[session], srv=srv)

    def assert_one_key_per_upload(self, requests, sessions):
        """Every recorded request of one session carries one key; sessions' keys differ."""
        keys = {}
        for r in requests:
            keys.setdefault(header(r, "BITS-Session-Id"), set()).add(header(r, "Idempotency-Key"))
        for s in sessions:
            self.assertIn(s, keys, f"{s} never reached the back-end")
            self.assertEqual(len(keys[s]), 1, f"{s} was sent with several keys: {keys[s]}")
        all_keys = [next(iter(keys[s])) for s in sessions]
        self.assertEqual(len(set(all_keys)), len(sessions), "two uploads shared a key")

    # -- cases -----------------------------------------------------------------------------

    def test_final_ack_returns_before_the_backend_answers(self):
        backend = self.backend()
        backend.control({"queue": [{"stall_s": 4}], "default": {"status": 200}})
        srv, client = self.start_async(backend.port)
        data = os.urandom(200_000)
        session, ack, elapsed = self.upload(client, "a.bin", data)
        # The back-end stalls 4 s; the Ack did not wait for it.
        self.assertLess(elapsed, 3.0, "the final Ack waited for the back-end")
        self.assertNotIn("BITS-Reply-URL", ack.headers)
        self.assert_ok(client.close(session, "a.bin"), session)
        self.wait_state(srv, session, "delivered")
        (request,) = backend.requests()
        self.assertEqual(header(request, "BITS-Session-Id"), session)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.assertEqual(header(request, "Repr-Digest"), f"sha-256=:{digest}:")
        self.assertEqual(header(request, "BITS-Upload-Size"), str(len(data)))
        self.assertRegex(header(request, "Idempotency-Key"), r'^"[0-9a-f]{32}"$')
        self.assertEqual(request["body_len"], 0)  # by reference

    def test_failing_backend_is_retried_with_one_key(self):
        backend = self.backend()
        backend.control({"queue": [{"status": 503, "count": 3}], "default": {"status": 200}})
        srv, client = self.start_async(backend.port)
        session, _, _ = self.upload(client, "b.bin", os.urandom(70_000))
        row = self.wait_state(srv, session, "delivered")
        self.assertEqual(row["attempts"], 4)
        requests = backend.requests()
        # 4 attempts; the HTTP client may add one silent resend on a fresh connection when a
        # pooled one turns out closed (same key), so the back-end may count more.
        self.assertGreaterEqual(len(requests), 4)
        self.assert_one_key_per_upload(requests, [session])
        # Backoff: the attempts are spread out (full jitter may pick 0, so only the total).
        self.assertLess(requests[0]["time"], requests[-1]["time"])

    def test_backend_down_then_up(self):
        port = free_port()
        srv, client = self.start_async(port)
        session, _, _ = self.upload(client, "c.bin", os.urandom(10_000))
        self.wait_for("two failed attempts",
                      lambda: self.deliveries(srv).get(session, {}).get("attempts", 0) >= 2,
                      srv=srv)
        row = self.deliveries(srv)[session]
        self.assertIn(row["state"], ("finalised", "delivering"))
        self.assertNotEqual(row["last_error"], "-")
        backend = self.backend(port)
        self.wait_state(srv, session, "delivered")
        self.assert_one_key_per_upload(backend.requests(), [session])

    def test_kill9_with_deliveries_pending_then_all_delivered(self):
        port = free_port()
        srv, client = self.start_async(port)
        sessions = [self.upload(client, f"k{i}.bin", os.urandom(5000 + i))[0] for i in range(5)]
        srv.kill()
        backend = self.backend(port)
        # The first answer is slow: bitsd is killed again while the back-end is answering.
        backend.control({"queue": [{"stall_s": 3}], "default": {"status": 200}})
        client.reset()
        srv.start()
        self.wait_for("a request in flight", lambda: backend.requests(), srv=srv)
        srv.kill()
        srv.start()
        for s in sessions:
            self.wait_state(srv, s, "delivered")
        requests = backend.requests()
        self.assertGreaterEqual(len(requests), 5)
        self.assert_one_key_per_upload(requests, sessions)

    def test_give_up_dead_letters_then_retry_redrives(self):
        backend = self.backend()
        backend.control({"default": {"status": 503}})
        srv, client = self.start_async(backend.port, give_up_after_s=2)
        session, _, _ = self.upload(client, "d.bin", os.urandom(3000))
        row = self.wait_state(srv, session, "dead_lettered")
        self.assertIn("gave up after", row["last_error"])
        dead = self.deliveries(srv, "--dead")
        self.assertEqual(list(dead), [session])
        attempts = row["attempts"]
        self.assertGreaterEqual(attempts, 1)

        backend.control({"default": {"status": 200}})
        result = self.cli(srv, "retry", session)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("retry requested", result.stdout)
        row = self.wait_state(srv, session, "delivered")
        self.assertEqual(row["attempts"], attempts + 1)  # attempts kept, one more
        self.assertEqual(self.deliveries(srv, "--dead"), {})
        self.assert_one_key_per_upload(backend.requests(), [session])

    def test_fatal_answer_dead_letters_at_once_and_retry_without_daemon(self):
        backend = self.backend()
        backend.control({"default": {"status": 422}})
        srv, client = self.start_async(backend.port)
        session, _, _ = self.upload(client, "e.bin", os.urandom(3000))
        row = self.wait_state(srv, session, "dead_lettered")
        self.assertEqual(row["attempts"], 1)
        self.assertGreaterEqual(len(backend.requests()), 1)

        # No daemon: retry changes the record itself; the next start delivers it.
        srv.stop()
        result = self.cli(srv, "retry", session)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("dead_lettered -> finalised", result.stdout)
        self.assertEqual(self.deliveries(srv)[session]["state"], "finalised")
        backend.control({"default": {"status": 200}})
        srv.start()
        self.wait_state(srv, session, "delivered")
        self.assert_one_key_per_upload(backend.requests(), [session])

    def test_close_before_delivery_is_applied_after_it(self):
        """Close-Session comes while the delivery is owed: answered 200, the bytes stay for the
        back-end, and once delivered the Close is applied: copied to destination_dir when the
        back-end asks (BITS-Copy-File-To-Destination), else the bytes are freed."""
        backend = self.backend()
        backend.control({"queue": [{"status": 503}, {"status": 200, "copy_to_destination": True}],
                         "default": {"status": 200}})
        srv, client = self.start_async(backend.port)
        copied = os.urandom(40_000)
        session, _, _ = self.upload(client, "copied.bin", copied)
        self.assert_ok(client.close(session, "copied.bin"), session)
        self.wait_state(srv, session, "delivered")
        path = srv.file_path("copied.bin")
        self.wait_for("the copy in destination_dir", lambda: os.path.exists(path), srv=srv)
        self.assert_file(path, hashlib.sha256(copied).hexdigest(), len(copied))

        freed = os.urandom(30_000)
        session2, _, _ = self.upload(client, "freed.bin", freed)
        self.assert_ok(client.close(session2, "freed.bin"), session2)
        self.wait_state(srv, session2, "delivered")
        data = os.path.join(srv.data_dir, "sessions", session2[1:3].lower(), session2, "data")
        self.wait_for("the bytes freed", lambda: not os.path.exists(data), srv=srv)
        self.assertFalse(os.path.exists(srv.file_path("freed.bin")))
        # A repeated Close is still answered 200.
        self.assert_ok(client.close(session2, "freed.bin"), session2)
        self.assert_one_key_per_upload(backend.requests(), [session, session2])

    def test_cli_rejections(self):
        backend = self.backend()
        srv, client = self.start_async(backend.port)
        session, _, _ = self.upload(client, "f.bin", os.urandom(1000))
        self.wait_state(srv, session, "delivered")
        # Not dead-lettered: nothing to retry, nothing changed.
        result = self.cli(srv, "retry", session)
        self.assertEqual(result.returncode, 1)
        self.assertIn("not dead_lettered", result.stderr)
        self.assertEqual(self.deliveries(srv)[session]["state"], "delivered")
        # Not a session id, unknown session, unknown action, missing ID.
        result = self.cli(srv, "retry", "../../etc")
        self.assertEqual(result.returncode, 2)
        self.assertIn("not a session id", result.stderr)
        result = self.cli(srv, "retry", "{00000000-0000-0000-0000-000000000000}")
        self.assertEqual(result.returncode, 1)
        result = self.cli(srv, "frobnicate")
        self.assertEqual(result.returncode, 2)
        result = self.cli(srv, "retry")
        self.assertEqual(result.returncode, 2)
        # The default list leaves delivered ones out.
        self.assertEqual(self.deliveries(srv, "--dead"), {})
        result = subprocess.run([bitsd_binary(), "deliveries", "list", "--data-dir",
                                 os.path.join(self.tmp, "nothing-here")],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("is no bitsd data_dir", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nothing-here")))


if __name__ == "__main__":
    unittest.main()
