"""Sync delivery end to end (issue 7): the real bitsd binary forwards completed uploads to a real
back-end process (tests/e2e/backend_server.py) on loopback, the final fragment's Ack waits for it,
and the client fetches the reply.

Checked: the notification's exact headers by reference and by value (Idempotency-Key, Repr-Digest
equal to the file's SHA-256, BITS-Session-Id, the size, the signature verified as a back-end
would); the reply fetched whole, in ranges (byte-exact) and 416; a back-end that fails N times,
times out, is down and comes back; SIGKILL of bitsd with a delivery owed and while the back-end is
answering; a stalled back-end not slowing Pings or another session's upload; the [MC-BUP] 4.2
capture's notification half. Every case ends delivered, all attempts of one upload with one key.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import readme_verifier
from bitsd_harness import BitsAssertions, BitsClient, HttpConnection, Server, wire_dir

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = os.path.join(HERE, "backend_server.py")
SECRET = b"e2e-signing-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backend:
    """backend_server.py as its own process; restartable on the same port (down, then up)."""

    def __init__(self, testcase, port=None):
        self.dir = tempfile.mkdtemp(prefix="bitsd-backend-")
        self.log = os.path.join(self.dir, "requests.jsonl")
        self.port = port or free_port()
        self.process = None
        testcase.addCleanup(self.stop)

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, BACKEND, "--log", self.log, "--port", str(self.port)],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        return self

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None

    def control(self, state):
        conn = HttpConnection("127.0.0.1", self.port, 10)
        try:
            body = json.dumps(state).encode()
            head = (f"POST /_control HTTP/1.1\r\nHost: b\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            r = conn.exchange(head, body)
            assert r.status == 204, r
        finally:
            conn.close()

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/ingest"


def hdr(request, name):
    for k, v in request["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def signed_by_bitsd(request, secret=SECRET):
    """The README's verification for back-end authors, read from the README and run on a
    recorded request as a back-end would run it (readme_verifier.py)."""
    verify = readme_verifier.load(secret)["signed_by_bitsd"]
    return verify(request["method"], request["target"], readme_verifier.Headers(request["headers"]))


def repr_digest_of(data):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


class DeliverySyncTest(BitsAssertions, unittest.TestCase):
    def setUp(self):
        self.secret_file = os.path.join(tempfile.mkdtemp(prefix="bitsd-secret-"), "backend.key")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        os.chmod(self.secret_file, 0o600)

    def server(self, backend, type_="reference", timeout_s=20, url=None, **kw):
        notification = {"type": type_, "url": url or backend.url, "timeout_s": timeout_s,
                        "delivery": "sync", "signing_secret_file": self.secret_file}
        return Server(self, upload={"notification": notification}, **kw).start()

    def upload(self, client, name, data, fragment_size=None):
        """Create-Session and every fragment; returns (session, the final fragment's Ack)."""
        session = client.new_session(name)
        fragment_size = fragment_size or len(data)
        r = None
        for first in range(0, len(data), fragment_size):
            chunk = data[first:first + fragment_size]
            r = client.fragment(session, chunk, first, len(data), name=name)
            if first + len(chunk) < len(data):
                self.assertEqual(r.status, 200, str(r))
        return session, r

    def final(self, client, session, name, data):
        """The final fragment again (what a client does after an error Ack or a lost answer)."""
        tail = len(data) - 1
        return client.fragment(session, data[tail:], tail, len(data), name=name)

    def get(self, srv, url, headers=(), method="GET"):
        parsed = urllib.parse.urlsplit(url)
        conn = HttpConnection("127.0.0.1", srv.port, 30)
        try:
            target = parsed.path + (("?" + parsed.query) if parsed.query else "")
            head = f"{method} {target} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
            for k, v in headers:
                head += f"{k}: {v}\r\n"
            return conn.exchange((head + "\r\n").encode(), b"", method=method)
        finally:
            conn.close()

    def assert_one_key(self, requests):
        keys = {hdr(r, "Idempotency-Key") for r in requests}
        self.assertEqual(len(keys), 1, keys)
        return keys.pop()

    # -- by reference ----------------------------------------------------------------------

    def test_by_reference_headers_signature_reply_in_ranges_and_close(self):
        backend = Backend(self).start()
        # 10240 bytes, as the [MC-BUP] 4.2 reply (ASCII: the test back-end writes text)
        reply = (bytes(range(32, 127)) * 108)[:10240]
        backend.control({"default": {"status": 200, "write_reply_file": reply.decode()}})
        srv = self.server(backend, url=backend.url + "?from=bitsd")
        client = BitsClient(srv)
        data = os.urandom(300 * 1024)
        name = "dir/ref.bin?tenant=7"
        session, r = self.upload(client, name, data, 128 * 1024)
        self.assertEqual(r.status, 200, str(r))
        self.assertEqual(r.headers.get("BITS-Received-Content-Range"), str(len(data)))
        reply_url = r.headers.get("BITS-Reply-URL")
        self.assertIsNotNone(reply_url, str(r))
        host = f"127.0.0.1:{srv.port}"
        self.assertEqual(reply_url, f"http://{host}/uploads/dir/BITS-Sessions/Replies/"
                                    f"{session.replace('{', '%7B').replace('}', '%7D')}/responsefile.bin")

        requests = backend.requests()
        self.assertEqual(len(requests), 1, requests)
        n = requests[0]
        self.assertEqual(n["method"], "POST")
        self.assertEqual(n["target"], "/ingest?from=bitsd&tenant=7")
        get = lambda name: hdr(n, name)
        self.assertEqual(get("BITS-Original-Request-URL"), f"http://{host}/uploads/dir/ref.bin?tenant=7")
        data_file = get("BITS-Request-DataFile-Name")
        self.assertTrue(data_file.startswith(srv.data_dir), data_file)
        self.assertTrue(get("BITS-Response-DataFile-Name").startswith(srv.data_dir))
        self.assertEqual(get("BITS-Session-Id"), session)
        self.assertEqual(get("BITS-Upload-Size"), str(len(data)))
        self.assertRegex(get("Idempotency-Key"), r'^"[0-9a-f]{32}"$')
        self.assertEqual(get("Repr-Digest"), repr_digest_of(data))
        self.assertEqual(get("Content-Length"), "0")
        self.assertTrue(signed_by_bitsd(n))
        self.assertEqual(n["body_len"], 0)

        # The reply: whole, HEAD, ranges byte-exact, 416.
        whole = self.get(srv, reply_url)
        self.assertEqual(whole.status, 200, str(whole))
        self.assertEqual(whole.body, reply)
        self.assertEqual(whole.headers.get("Content-Length"), str(len(reply)))
        self.assertEqual(whole.headers.get("Accept-Ranges"), "bytes")
        self.assertIsNotNone(whole.headers.get("Last-Modified"))
        etag = whole.headers.get("ETag")
        self.assertIsNotNone(etag)
        head = self.get(srv, reply_url, method="HEAD")
        self.assertEqual((head.status, head.body, head.headers.get("Content-Length")),
                         (200, b"", str(len(reply))))
        for spec, first, last in (("bytes=0-9976", 0, 9976), ("bytes=100-", 100, 10239),
                                  ("bytes=-17", 10223, 10239), ("bytes=5000-5000", 5000, 5000)):
            part = self.get(srv, reply_url, [("Range", spec)])
            self.assertEqual(part.status, 206, spec)
            self.assertEqual(part.headers.get("Content-Range"), f"bytes {first}-{last}/10240", spec)
            self.assertEqual(part.body, reply[first:last + 1], spec)
        unsatisfiable = self.get(srv, reply_url, [("Range", "bytes=10240-")])
        self.assertEqual(unsatisfiable.status, 416)
        self.assertEqual(unsatisfiable.headers.get("Content-Range"), "bytes */10240")
        stale = self.get(srv, reply_url, [("Range", "bytes=0-9"), ("If-Range", '"other"')])
        self.assertEqual((stale.status, stale.body), (200, reply))
        fresh = self.get(srv, reply_url, [("Range", "bytes=0-9"), ("If-Range", etag)])
        self.assertEqual((fresh.status, fresh.body), (206, reply[:10]))
        self.assertIn(self.get(srv, reply_url.replace("Replies", "replies")).status, (404, 405))

        # A repeated final fragment: the stored Ack, no second notification.
        again = self.final(client, session, name, data)
        self.assertEqual(again.status, 200, str(again))
        self.assertEqual(again.headers.get("BITS-Reply-URL"), reply_url)
        self.assertEqual(len(backend.requests()), 1)

        # Close: the back-end has the file; nothing reaches destination_dir; the reply is gone.
        self.assert_ack(client.close(session, name=name), 200)
        self.assertFalse(os.path.exists(srv.file_path("dir/ref.bin")))
        self.assertEqual(self.get(srv, reply_url).status, 404)
        self.assertFalse(os.path.exists(data_file))
        self.assert_ack(client.close(session, name=name), 200)  # a repeated Close still answers 200

    # -- by value --------------------------------------------------------------------------

    def test_by_value_streams_the_file_the_reply_is_the_body_and_copy_to_destination(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 201, "body": "value reply", "copy_to_destination": True}})
        srv = self.server(backend, type_="value")
        client = BitsClient(srv)
        data = os.urandom(2 * 1024 * 1024 + 3)
        session, r = self.upload(client, "val.bin", data, 1024 * 1024)
        self.assertEqual(r.status, 200, str(r))
        n = backend.requests()[-1]
        get = lambda name: hdr(n, name)
        self.assertEqual(n["body_len"], len(data))
        self.assertEqual(n["body_sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(get("Content-Length"), str(len(data)))
        self.assertEqual(get("Repr-Digest"), repr_digest_of(data))
        self.assertEqual(get("BITS-Session-Id"), session)
        self.assertEqual(get("BITS-Upload-Size"), str(len(data)))
        self.assertIsNone(get("BITS-Request-DataFile-Name"))
        self.assertTrue(signed_by_bitsd(n))
        reply = self.get(srv, r.headers["BITS-Reply-URL"])
        self.assertEqual((reply.status, reply.body), (200, b"value reply"))
        self.assert_ack(client.close(session, name="val.bin"), 200)
        with open(srv.file_path("val.bin"), "rb") as f:
            self.assertEqual(f.read(), data)  # BITS-Copy-File-To-Destination: committed

    def test_static_response_url_is_the_reply_url(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 200, "static_response_url": "https://cdn.example/r/1"}})
        srv = self.server(backend)
        client = BitsClient(srv)
        session, r = self.upload(client, "s.bin", b"static")
        self.assertEqual(r.headers.get("BITS-Reply-URL"), "https://cdn.example/r/1", str(r))

    # -- failures and retries --------------------------------------------------------------

    def test_backend_fails_n_times_then_succeeds_with_one_key(self):
        backend = Backend(self).start()
        backend.control({"queue": [{"status": 503, "count": 2}, {"status": 500}],
                         "default": {"status": 200}})
        srv = self.server(backend)
        client = BitsClient(srv)
        data = os.urandom(5000)
        session, r = self.upload(client, "retry.bin", data)
        statuses = []
        for _ in range(10):
            statuses.append(r.status)
            if r.status == 200:
                break
            self.assertEqual(r.headers.get("BITS-Packet-Type"), "Ack")
            self.assertEqual(r.headers.get("BITS-Error-Context"), "0x7", str(r))
            self.assertEqual(r.headers.get("BITS-Error-Code"), f"0x{0x80190000 + r.status:08X}")
            r = self.final(client, session, "retry.bin", data)
        self.assertEqual(statuses, [503, 503, 500, 200])
        requests = backend.requests()
        self.assertEqual(len(requests), 4)
        self.assert_one_key(requests)
        self.assertEqual({hdr(q, "Repr-Digest") for q in requests}, {repr_digest_of(data)})

    def test_fatal_answer_stops_the_client_and_is_repeated(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 404}})
        srv = self.server(backend)
        client = BitsClient(srv)
        session, r = self.upload(client, "fatal.bin", b"abc")
        self.assertEqual((r.status, r.headers.get("BITS-Error-Code"), r.headers.get("BITS-Error-Context")),
                         (404, "0x80190194", "0x7"))
        again = self.final(client, session, "fatal.bin", b"abc")
        self.assertEqual(again.status, 404)
        self.assertEqual(len(backend.requests()), 1)  # given up: not notified again

    def test_timeout_is_408_and_the_retry_delivers(self):
        backend = Backend(self).start()
        backend.control({"queue": [{"stall_s": 4}], "default": {"status": 200}})
        srv = self.server(backend, timeout_s=1)
        client = BitsClient(srv)
        session, r = self.upload(client, "slow.bin", b"slow bytes")
        self.assertEqual((r.status, r.headers.get("BITS-Error-Code"), r.headers.get("BITS-Error-Context")),
                         (408, "0x80190198", "0x7"), str(r))
        r = self.final(client, session, "slow.bin", b"slow bytes")
        self.assertEqual(r.status, 200, str(r))
        self.assert_one_key(backend.requests())

    def test_backend_down_then_up(self):
        backend = Backend(self)  # not started: nothing listens on its port
        srv = self.server(backend)
        client = BitsClient(srv)
        session, r = self.upload(client, "down.bin", b"while down")
        self.assertEqual((r.status, r.headers.get("BITS-Error-Code")), (503, "0x801901F7"), str(r))
        backend.start()
        r = self.final(client, session, "down.bin", b"while down")
        self.assertEqual(r.status, 200, str(r))
        self.assertEqual(len(backend.requests()), 1)

    # -- crashes ---------------------------------------------------------------------------

    def test_sigkill_with_a_delivery_owed_then_resume(self):
        # A failed attempt leaves the file finalised (digest and key durable) and undelivered:
        # bitsd dies there, comes back, and the client's retry delivers with the same key.
        backend = Backend(self).start()
        backend.control({"queue": [{"status": 503}], "default": {"status": 200}})
        srv = self.server(backend, fsync="durable")
        client = BitsClient(srv)
        data = os.urandom(70000)
        session, r = self.upload(client, "owed.bin", data)
        self.assertEqual(r.status, 503)
        srv.kill()
        srv.start()
        client = BitsClient(srv)
        r = self.final(client, session, "owed.bin", data)
        self.assertEqual(r.status, 200, str(r))
        requests = backend.requests()
        self.assertEqual(len(requests), 2)
        self.assert_one_key(requests)
        self.assertEqual(hdr(requests[1], "Repr-Digest"), repr_digest_of(data))

    def test_sigkill_while_the_backend_answers_then_resume(self):
        backend = Backend(self).start()
        backend.control({"queue": [{"stall_s": 3}], "default": {"status": 200}})
        srv = self.server(backend, fsync="durable")
        client = BitsClient(srv, timeout=30)
        data = os.urandom(9000)
        session = client.new_session("kill.bin")
        client.fragment(session, data[:4000], 0, len(data), name="kill.bin")
        result = {}

        def last_fragment():
            try:
                result["r"] = client.fragment(session, data[4000:], 4000, len(data), name="kill.bin")
            except Exception as e:  # the connection dies with bitsd
                result["e"] = e

        t = threading.Thread(target=last_fragment)
        t.start()
        deadline = time.time() + 20
        while not backend.requests() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(backend.requests()), 1)
        srv.kill()  # the back-end is still answering
        t.join(30)
        self.assertNotIn("r", result)
        srv.start()
        client = BitsClient(srv)
        r = self.final(client, session, "kill.bin", data)
        self.assertEqual(r.status, 200, str(r))
        requests = backend.requests()
        self.assertEqual(len(requests), 2)
        self.assert_one_key(requests)

    # -- a stalled back-end slows nothing else ---------------------------------------------

    def test_stalled_backend_does_not_slow_pings_or_other_uploads(self):
        backend = Backend(self).start()
        backend.control({"queue": [{"stall_s": 6, "count": 4}], "default": {"status": 200}})
        srv = self.server(backend, extra={"threads": 1})
        stalled = []

        def deliver(i):
            c = BitsClient(srv, timeout=60)
            session, r = self.upload(c, f"stall{i}.bin", b"x" * 100)
            stalled.append(r.status)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while len(backend.requests()) < 4 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(backend.requests()), 4)
        # While four deliveries hang (on the only I/O thread), Pings and a plain fragment go on.
        client = BitsClient(srv)
        started = time.time()
        for _ in range(50):
            self.assert_ack(client.ping(), 200)
        pings_s = time.time() - started
        other = BitsClient(srv)
        session = other.new_session("other.bin")
        r = other.fragment(session, b"y" * 4096, 0, 8192, name="other.bin")
        self.assertEqual(r.status, 200)
        elapsed = time.time() - started
        self.assertLess(elapsed, 5.0, f"50 Pings took {pings_s:.2f} s with deliveries stalled")
        for t in threads:
            t.join(60)
        self.assertEqual(stalled, [200] * 4)

    # -- [MC-BUP] 4.2, the notification half -----------------------------------------------

    def test_mcbup_4_2_notification_and_reply(self):
        with open(os.path.join(wire_dir(), "mcbup-4.2.json")) as f:
            vector = json.load(f)
        exchanges = {e["label"]: e for e in vector["exchanges"]}
        captured = next(e for e in vector["exchanges"] if e["direction"] == "server-to-backend")
        get_ex = next(e for e in vector["exchanges"] if e["request"]["method"] == "GET")
        range_header = hdr(get_ex["request"], "Range")
        reply_size = int(hdr({"headers": get_ex["response"]["headers"]}, "Content-Range").split("/")[1])
        reply = base64.b64encode(os.urandom(reply_size))[:reply_size]  # text: the back-end writes str

        backend = Backend(self).start()
        backend.control({"default": {"status": 200, "write_reply_file": reply.decode(),
                                     "close_delimited": True}})
        srv = self.server(backend, url=f"http://127.0.0.1:{backend.port}/bitsasp/test.REPLY")
        fragment_ex = next(e for e in vector["exchanges"]
                           if hdr(e["request"], "BITS-Packet-Type") == "Fragment")
        body = base64.b64decode(fragment_ex["request"]["body_b64"])
        client = BitsClient(srv, host_header="frankcao8")
        session = client.new_session("2100mb-rfc2119.txt")
        r = client.fragment(session, body, 0, len(body), name="2100mb-rfc2119.txt")
        self.assertEqual(r.status, 200, str(r))
        self.assertEqual(r.headers.get("BITS-Received-Content-Range"), str(len(body)))
        reply_url = r.headers.get("BITS-Reply-URL")
        # IIS answered the relative "BITS-Sessions\\Replies\\{ID}\\responsefile.bin"; bitsd the
        # absolute URL the Windows client made of it (Decisions table).
        self.assertEqual(reply_url, "http://frankcao8/uploads/BITS-Sessions/Replies/"
                                    + session.replace("{", "%7B").replace("}", "%7D") + "/responsefile.bin")

        n = backend.requests()[0]
        # The captured notification's headers, in its order, with bitsd's additions after them.
        names = [k for k, _ in n["headers"]]
        for name in ("BITS-Original-Request-URL", "BITS-Request-DataFile-Name", "BITS-Response-DataFile-Name"):
            self.assertIsNotNone(hdr(captured["request"], name))
            self.assertIn(name, names)
        self.assertLess(names.index("BITS-Original-Request-URL"), names.index("BITS-Request-DataFile-Name"))
        self.assertLess(names.index("BITS-Request-DataFile-Name"), names.index("BITS-Response-DataFile-Name"))
        self.assertEqual(n["target"], captured["request"]["target"])
        # Not the client's Host ("frankcao8", as captured): the back-end is told the listener's
        # own address when no public_base_url is set.
        self.assertEqual(hdr(n, "BITS-Original-Request-URL"),
                         f"http://127.0.0.1:{srv.port}/uploads/2100mb-rfc2119.txt")
        self.assertEqual(hdr(n, "Content-Length"), "0")
        with open(hdr(n, "BITS-Request-DataFile-Name"), "rb") as f:
            self.assertEqual(f.read(), body)  # the back-end reads the upload where it lies

        part = self.get(srv, reply_url, [("Range", range_header)])
        self.assertEqual(part.status, get_ex["response"]["status"])
        self.assertEqual(part.headers.get("Content-Range"), hdr({"headers": get_ex["response"]["headers"]},
                                                               "Content-Range"))
        self.assertEqual(part.headers.get("Content-Length"), hdr({"headers": get_ex["response"]["headers"]},
                                                                "Content-Length"))
        self.assertEqual(part.headers.get("Accept-Ranges"), "bytes")
        self.assertEqual(part.body, reply[:9977])
        self.assert_ack(client.close(session, name="2100mb-rfc2119.txt"), 200)
        self.assertEqual(len(backend.requests()), 1)


class SecretFileTest(unittest.TestCase):
    def test_a_secret_file_others_can_read_stops_start_up_naming_the_key(self):
        from bitsd_harness import bitsd_binary
        root = tempfile.mkdtemp(prefix="bitsd-secret-")
        secret = os.path.join(root, "backend.key")
        with open(secret, "wb") as f:
            f.write(b"s3cret")
        os.chmod(secret, 0o644)
        config = {"listen": ["127.0.0.1:0"], "data_dir": os.path.join(root, "data"),
                  "uploads": [{"url_prefix": "/uploads/", "destination_dir": os.path.join(root, "files"),
                               "notification": {"type": "reference", "url": "http://127.0.0.1:9/",
                                                "signing_secret_file": secret}}]}
        path = os.path.join(root, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        p = subprocess.run([bitsd_binary(), "--config", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        output = (p.stdout + p.stderr).decode(errors="replace")
        self.assertIn("uploads[0].notification.signing_secret_file", output)


class NotificationNoneTest(BitsAssertions, unittest.TestCase):
    def test_type_none_is_a_plain_upload(self):
        srv = Server(self, upload={"notification": {"type": "none"}}).start()
        client = BitsClient(srv)
        session = client.new_session("plain.bin")
        r = client.fragment(session, b"plain", 0, 5, name="plain.bin")
        self.assertEqual(r.status, 200)
        self.assertNotIn("BITS-Reply-URL", r.headers)
        self.assert_ack(client.close(session, name="plain.bin"), 200)
        with open(srv.file_path("plain.bin"), "rb") as f:
            self.assertEqual(f.read(), b"plain")
        # No reply URL is served without a notification.
        conn = HttpConnection("127.0.0.1", srv.port, 10)
        r = conn.exchange(f"GET /uploads/BITS-Sessions/Replies/{session}/responsefile.bin HTTP/1.1\r\n"
                          "Host: x\r\n\r\n".encode(), b"", method="GET")
        conn.close()
        self.assertNotEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
