"""bits-upload end to end: the real client binary (beside BITSD_BINARY) against the real bitsd,
and against a small scripted BITS server for what bitsd does not do yet (authentication,
upload-reply, Host-Id bookkeeping, losing sessions).

Covers: byte-exact uploads (0 B, 1 B, 100 MiB), resume after SIGINT of the client, resume after
SIGKILL + restart of the server (with the client stopped, and with the client running through
it), 413 shrinking, a fatal 403 (exit 4 naming 0x80070005), --cancel, a changed source starting
over, giving up (exit 5), usage and local errors (exit 2, 3), --quiet, Basic auth (--user,
--netrc), --reply with a resumed (Range) download, BITS-Host-Id, SESSION_NOT_FOUND restarts.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from bitsd_harness import (
    BITS_PROTOCOL_GUID, KIB, MIB, BitsClient, PatternSource, Server, bitsd_binary, sha256_file)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_LOCAL = 3
EXIT_REFUSED = 4
EXIT_GAVE_UP = 5
EXIT_INTERRUPTED = 130

CLIENT_TIMEOUT_S = 300


def client_binary():
    path = os.path.join(os.path.dirname(bitsd_binary()), "bits-upload")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"bits-upload is not built next to bitsd: {path!r}")
    return path


def free_port():
    """A port nobody listens on right now (bitsd is then told to listen there, across
    restarts, so the client's state file keeps naming the same URL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClientTestBase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bits-upload-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.procs = []
        self.addCleanup(self._stop_clients)

    def _stop_clients(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # -- files and state ---------------------------------------------------------------

    def make_file(self, name, size, seed=1):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            for chunk in PatternSource(size, seed).chunks(0, size):
                f.write(chunk)
        return path

    @staticmethod
    def state_path(path):
        return path + ".bits-upload"

    @staticmethod
    def read_state(state_path):
        try:
            with open(state_path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    # -- servers -----------------------------------------------------------------------

    def bitsd(self, port=None, **kw):
        extra = kw.pop("extra", {})
        if port is not None:
            extra["listen"] = [f"127.0.0.1:{port}"]
        return Server(self, extra=extra, **kw).start()

    @staticmethod
    def url(srv, name, host="127.0.0.1"):
        return f"http://{host}:{srv.port}/uploads/{name}"

    # -- the client --------------------------------------------------------------------

    def run_client(self, *args, timeout=CLIENT_TIMEOUT_S, env=None):
        r = subprocess.run([client_binary(), *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, env=env)
        return r

    def start_client(self, *args):
        p = subprocess.Popen([client_binary(), *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def wait_for_progress(self, proc, state_path, at_least, timeout=60):
        """Waits until the state file records an acknowledged offset >= at_least."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.read_state(state_path)
            if s and s.get("session_id") and s.get("offset", 0) >= at_least:
                return s
            if proc.poll() is not None:
                out, err = proc.communicate()
                self.fail(f"bits-upload exited ({proc.returncode}) before reaching offset "
                          f"{at_least}: the upload went too fast to interrupt, or failed:\n{err}")
            time.sleep(0.005)
        self.fail(f"no progress to offset {at_least} within {timeout} s")

    def interrupt(self, proc):
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        return proc.returncode, err

    def assert_exit(self, r, code, msg=""):
        self.assertEqual(r.returncode, code,
                         f"exit code{msg}\nstderr:\n{r.stderr}\nstdout:\n{r.stdout}")

    @staticmethod
    def read_bytes(path):
        with open(path, "rb") as f:
            return f.read()

    def assert_same_file(self, a, b):
        self.assertTrue(os.path.isfile(b), f"{b} does not exist")
        self.assertEqual(os.path.getsize(a), os.path.getsize(b), f"size of {b}")
        self.assertEqual(sha256_file(a), sha256_file(b), f"content of {b}")


# ----------------------------------------------------------------------------------------
# Against bitsd
# ----------------------------------------------------------------------------------------

class UploadTest(ClientTestBase):

    def test_upload_0_bytes(self):
        srv = self.bitsd()
        src = self.make_file("zero.bin", 0)
        r = self.run_client(src, self.url(srv, "zero.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("zero.bin"))
        self.assertFalse(os.path.exists(self.state_path(src)), "state file left behind")

    def test_upload_1_byte(self):
        srv = self.bitsd()
        src = self.make_file("one.bin", 1, seed=2)
        r = self.run_client(src, self.url(srv, "one.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("one.bin"))
        self.assertIn("uploaded", r.stderr)

    def test_upload_100mib_1mib_fragments(self):
        srv = self.bitsd()
        src = self.make_file("big.bin", 100 * MIB, seed=3)
        r = self.run_client("--fragment-size", "1MiB", src, self.url(srv, "dir/big.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("dir/big.bin"))
        self.assertFalse(os.path.exists(self.state_path(src)))
        # Not a terminal: plain progress lines, one per 10%, no carriage returns.
        self.assertNotIn("\r", r.stderr)
        for decile in range(10, 100, 10):
            self.assertIn(f"{decile}% (", r.stderr)

    def test_upload_default_fragment_size(self):
        # 8 MiB fragments, as a plain `bits-upload FILE URL` sends them (Windows sends up to
        # 13 MB). bitsd must accept any fragment up to max_fragment_size (32 MiB by default):
        # a 400 here means its request parser still has Beast's default 1 MiB body limit.
        srv = self.bitsd()
        src = self.make_file("eight.bin", 20 * MIB + 7, seed=4)
        r = self.run_client(src, self.url(srv, "eight.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("eight.bin"))

    def test_quiet_prints_nothing(self):
        srv = self.bitsd()
        src = self.make_file("q.bin", 300 * KIB)
        r = self.run_client("--quiet", "--fragment-size", "64KiB", src, self.url(srv, "q.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout, "")
        self.assert_same_file(src, srv.file_path("q.bin"))

    def test_413_shrinks_fragments(self):
        srv = self.bitsd(max_fragment_size=64 * KIB)
        src = self.make_file("shrink.bin", MIB + 123, seed=5)
        r = self.run_client("--fragment-size", "1MiB", src, self.url(srv, "shrink.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("shrink.bin"))
        self.assertIn("413", r.stderr)
        self.assertIn("65536-byte fragments", r.stderr)

    def test_existing_destination_is_fatal_403(self):
        srv = self.bitsd()
        src = self.make_file("taken.bin", 10 * KIB)
        self.assert_exit(self.run_client(src, self.url(srv, "taken.bin")), EXIT_OK)
        r = self.run_client(src, self.url(srv, "taken.bin"))
        self.assert_exit(r, EXIT_REFUSED)
        self.assertIn("0x80070005", r.stderr)
        self.assertIn("403", r.stderr)
        self.assertIn("Create-Session", r.stderr)

    def test_gives_up_when_nobody_listens(self):
        src = self.make_file("nobody.bin", 10)
        start = time.monotonic()
        r = self.run_client("--retries", "2", "--retry-max-delay", "1", src,
                            f"http://127.0.0.1:{free_port()}/uploads/nobody.bin")
        self.assert_exit(r, EXIT_GAVE_UP)
        self.assertIn("gave up", r.stderr)
        self.assertLess(time.monotonic() - start, 30)

    def test_usage_errors_exit_2(self):
        src = self.make_file("u.bin", 10)
        for args in ([src], [src, "https://127.0.0.1/uploads/u.bin"], [src, "ftp://h/u"],
                     ["--fragment-size", "1K", src, "http://127.0.0.1:1/uploads/u.bin"],
                     ["--no-such-flag", src, "http://127.0.0.1:1/uploads/u.bin"]):
            with self.subTest(args=args):
                self.assert_exit(self.run_client(*args), EXIT_USAGE)
        r = self.run_client(src, "https://127.0.0.1/uploads/u.bin")
        self.assertIn("https", r.stderr)

    def test_help_documents_exit_codes(self):
        r = self.run_client("--help")
        self.assert_exit(r, EXIT_OK)
        for text in ("Exit codes", " 0 ", " 2 ", " 3 ", " 4 ", " 5 ", "130", "--fragment-size",
                     "--reply", "--cancel", "--state", "--quiet"):
            self.assertIn(text, r.stdout)

    def test_missing_file_exit_3(self):
        r = self.run_client(os.path.join(self.tmp, "absent.bin"),
                            "http://127.0.0.1:1/uploads/absent.bin")
        self.assert_exit(r, EXIT_LOCAL)
        self.assertIn("absent.bin", r.stderr)


class ResumeTest(ClientTestBase):

    def test_resume_after_sigint(self):
        srv = self.bitsd(fsync="durable")
        src = self.make_file("ctrl-c.bin", 64 * MIB, seed=6)
        state = self.state_path(src)
        p = self.start_client("--fragment-size", "128KiB", src, self.url(srv, "ctrl-c.bin"))
        before = self.wait_for_progress(p, state, 2 * MIB)
        rc, err = self.interrupt(p)
        self.assertEqual(rc, EXIT_INTERRUPTED, err)
        self.assertIn("run the same command again", err)
        kept = self.read_state(state)
        self.assertIsNotNone(kept, "SIGINT must keep the state file")
        self.assertEqual(kept["session_id"], before["session_id"])
        self.assertGreaterEqual(kept["offset"], before["offset"])
        self.assertLess(kept["offset"], 64 * MIB)
        self.assertFalse(os.path.exists(srv.file_path("ctrl-c.bin")))

        r = self.run_client("--fragment-size", "128KiB", src, self.url(srv, "ctrl-c.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertIn("resuming at", r.stderr)
        self.assert_same_file(src, srv.file_path("ctrl-c.bin"))
        self.assertFalse(os.path.exists(state))

    def test_resume_after_server_sigkill_and_restart(self):
        port = free_port()
        srv = self.bitsd(port, fsync="durable")
        src = self.make_file("crash.bin", 64 * MIB, seed=7)
        state = self.state_path(src)
        url = f"http://127.0.0.1:{port}/uploads/crash.bin"
        p = self.start_client("--fragment-size", "128KiB", src, url)
        self.wait_for_progress(p, state, 2 * MIB)
        rc, err = self.interrupt(p)
        self.assertEqual(rc, EXIT_INTERRUPTED, err)
        kept = self.read_state(state)

        srv.kill()
        srv.start()
        self.assertEqual(srv.port, port)
        r = self.run_client("--fragment-size", "128KiB", src, url)
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("crash.bin"))
        # The stored session survived the crash: no new session was needed.
        self.assertNotIn("starting over", r.stderr)
        self.assertNotIn("does not know the session", r.stderr)
        self.assertIn("resuming at", r.stderr)
        self.assertIsNotNone(kept)

    def test_client_rides_through_a_server_restart(self):
        port = free_port()
        srv = self.bitsd(port, fsync="durable")
        src = self.make_file("ride.bin", 64 * MIB, seed=8)
        state = self.state_path(src)
        p = self.start_client("--fragment-size", "128KiB", "--retry-max-delay", "2", src,
                              f"http://127.0.0.1:{port}/uploads/ride.bin")
        self.wait_for_progress(p, state, 2 * MIB)
        srv.kill()
        time.sleep(1.5)
        srv.start()
        out, err = p.communicate(timeout=CLIENT_TIMEOUT_S)
        self.assertEqual(p.returncode, EXIT_OK, err)
        self.assertIn("retrying in", err)
        self.assert_same_file(src, srv.file_path("ride.bin"))

    def test_changed_source_starts_over(self):
        srv = self.bitsd(fsync="durable")
        src = self.make_file("change.bin", 32 * MIB, seed=9)
        state = self.state_path(src)
        url = self.url(srv, "change.bin")
        p = self.start_client("--fragment-size", "128KiB", src, url)
        old = self.wait_for_progress(p, state, MIB)
        self.assertEqual(self.interrupt(p)[0], EXIT_INTERRUPTED)
        # New content, new size: the stored session must not be continued.
        self.make_file("change.bin", 3 * MIB + 1, seed=10)
        r = self.run_client("--fragment-size", "1MiB", src, url)
        self.assert_exit(r, EXIT_OK)
        self.assertIn("starting over", r.stderr)
        self.assert_same_file(src, srv.file_path("change.bin"))
        self.assertIn(old["session_id"], r.stderr)  # the old session was cancelled

    def test_state_option_places_the_state_file(self):
        srv = self.bitsd(fsync="durable")
        src = self.make_file("st.bin", 32 * MIB, seed=11)
        state = os.path.join(self.tmp, "custom.state")
        p = self.start_client("--state", state, "--fragment-size", "128KiB", src,
                              self.url(srv, "st.bin"))
        self.wait_for_progress(p, state, MIB)
        self.assertEqual(self.interrupt(p)[0], EXIT_INTERRUPTED)
        self.assertFalse(os.path.exists(self.state_path(src)))
        r = self.run_client("--state", state, src, self.url(srv, "st.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("st.bin"))
        self.assertFalse(os.path.exists(state))


class CancelTest(ClientTestBase):

    def test_cancel_stored_session(self):
        srv = self.bitsd(fsync="durable")
        src = self.make_file("cancel.bin", 32 * MIB, seed=12)
        state = self.state_path(src)
        url = self.url(srv, "cancel.bin")
        p = self.start_client("--fragment-size", "128KiB", src, url)
        stored = self.wait_for_progress(p, state, MIB)
        self.assertEqual(self.interrupt(p)[0], EXIT_INTERRUPTED)

        r = self.run_client("--cancel", src, url)
        self.assert_exit(r, EXIT_OK)
        self.assertIn(stored["session_id"], r.stderr)
        self.assertFalse(os.path.exists(state), "--cancel must delete the state file")
        self.assertFalse(os.path.exists(srv.file_path("cancel.bin")))
        # The server no longer takes bytes for that session.
        c = BitsClient(srv)
        self.addCleanup(c.reset)
        resp = c.fragment(stored["session_id"], b"x", stored["offset"], 32 * MIB,
                          name="cancel.bin")
        self.assertNotEqual(resp.status, 200, f"a cancelled session took a fragment:\n{resp}")

        # Nothing stored any more: --cancel again is a no-op, and a new upload starts afresh.
        again = self.run_client("--cancel", src, url)
        self.assert_exit(again, EXIT_OK)
        self.assertIn("nothing to cancel", again.stderr)
        r = self.run_client("--fragment-size", "1MiB", src, url)
        self.assert_exit(r, EXIT_OK)
        self.assert_same_file(src, srv.file_path("cancel.bin"))


class HostIdTest(ClientTestBase):

    def test_follows_bits_host_id(self):
        # The URL names "localhost"; the server's Create-Session Ack says to continue on
        # 127.0.0.1 (the same daemon), which the client must then use.
        srv = self.bitsd(host_id="127.0.0.1", host_id_fallback_timeout_s=60)
        src = self.make_file("farm.bin", 2 * MIB + 5, seed=13)
        r = self.run_client("--fragment-size", "512KiB", src,
                            self.url(srv, "farm.bin", host="localhost"))
        self.assert_exit(r, EXIT_OK)
        self.assertIn("continue on host 127.0.0.1", r.stderr)
        self.assert_same_file(src, srv.file_path("farm.bin"))


# ----------------------------------------------------------------------------------------
# Against a scripted BITS server: what bitsd does not do (yet)
# ----------------------------------------------------------------------------------------

class FakeBitsServer:
    """A minimal in-process BITS upload server (http.server dispatches BITS_POST to
    do_BITS_POST). Options: Basic credentials to demand, a reply to offer on the final Ack (its
    first GET cut in the middle), a BITS-Host-Id, forgetting every session at the N-th
    fragment."""

    def __init__(self, testcase, *, auth=None, reply=None, cut_first_reply=False, host_id=None,
                 forget_at_fragment=None):
        self.auth = auth  # (user, password) or None
        self.reply = reply
        self.cut_next_reply = cut_first_reply
        self.host_id = host_id
        self.forget_at_fragment = forget_at_fragment
        self.sessions = {}
        self.closed = {}
        self.requests = []  # (method, packet type, headers dict)
        self.reply_gets = []  # Range header of every reply GET
        self.fragments = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_BITS_POST(self):
                fake.handle_post(self)

            def do_GET(self):
                fake.handle_get(self)

        class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = ThreadingServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.stop)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, name, host="127.0.0.1"):
        return f"http://{host}:{self.port}/uploads/{name}"

    @staticmethod
    def ack(h, status, headers=()):
        h.send_response(status)
        h.send_header("BITS-Packet-Type", "Ack")
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def authorized(self, h):
        if self.auth is None:
            return True
        import base64
        want = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return h.headers.get("Authorization") == want

    def handle_post(self, h):
        n = int(h.headers.get("Content-Length", "0"))
        body = h.rfile.read(n) if n else b""
        kind = (h.headers.get("BITS-Packet-Type") or "").lower()
        with self.lock:
            self.requests.append(("BITS_POST", kind, dict(h.headers.items())))
            if not self.authorized(h):
                return self.ack(h, 401, [("WWW-Authenticate", 'Basic realm="bits"')])
            if kind == "ping":
                return self.ack(h, 200)
            if kind == "create-session":
                sid = "{" + str(uuid.uuid4()).upper() + "}"
                self.sessions[sid] = bytearray()
                headers = [("BITS-Protocol", BITS_PROTOCOL_GUID), ("BITS-Session-Id", sid)]
                if self.host_id:
                    headers += [("BITS-Host-Id", self.host_id),
                                ("BITS-Host-Id-Fallback-Timeout", "60")]
                return self.ack(h, 200, headers)
            sid = h.headers.get("BITS-Session-Id")
            not_found = [("BITS-Error-Code", "0x8020001F"), ("BITS-Error-Context", "0x5")]
            if kind == "fragment":
                self.fragments += 1
                if self.forget_at_fragment and self.fragments == self.forget_at_fragment:
                    self.sessions.clear()
            if sid not in self.sessions:
                if kind == "cancel-session" and sid in self.closed:
                    return self.ack(h, 200)
                return self.ack(h, 500, not_found)
            data = self.sessions[sid]
            if kind == "fragment":
                unit, spec = h.headers["Content-Range"].split(" ", 1)
                rng, total = spec.split("/")
                first, last = (int(x) for x in rng.split("-"))
                total = int(total)
                if first > len(data):
                    return self.ack(h, 416, [("BITS-Received-Content-Range", str(len(data)))])
                data += body[len(data) - first:]
                headers = [("BITS-Received-Content-Range", str(len(data)))]
                if len(data) == total and self.reply is not None:
                    headers.append(("BITS-Reply-URL",
                                    f"http://127.0.0.1:{self.port}/replies/{sid[1:-1]}"))
                return self.ack(h, 200, headers)
            if kind == "close-session":
                self.closed[sid] = bytes(data)
                del self.sessions[sid]
                return self.ack(h, 200)
            if kind == "cancel-session":
                del self.sessions[sid]
                return self.ack(h, 200)
            return self.ack(h, 400, [("BITS-Error-Code", "0x80070057")])

    def handle_get(self, h):
        with self.lock:
            self.requests.append(("GET", None, dict(h.headers.items())))
            self.reply_gets.append(h.headers.get("Range"))
            if not self.authorized(h):
                h.send_response(401)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            reply = self.reply or b""
            start = 0
            rng = h.headers.get("Range")
            if rng:
                start = int(rng.split("=", 1)[1].split("-", 1)[0])
            if self.cut_next_reply:
                # Announce the whole reply, send half of it, drop the connection.
                self.cut_next_reply = False
                h.send_response(200)
                h.send_header("Content-Length", str(len(reply)))
                h.end_headers()
                h.wfile.write(reply[:len(reply) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if start:
                h.send_response(206)
                h.send_header("Content-Range", f"bytes {start}-{len(reply) - 1}/{len(reply)}")
            else:
                h.send_response(200)
            h.send_header("Content-Length", str(len(reply) - start))
            h.end_headers()
            h.wfile.write(reply[start:])


class ScriptedServerTest(ClientTestBase):

    def test_basic_auth_with_user_and_password(self):
        fake = FakeBitsServer(self, auth=("alice", "s3cret"))
        src = self.make_file("auth.bin", 200 * KIB, seed=14)
        r = self.run_client("--user", "alice", "--password", "s3cret", "--fragment-size", "64K",
                            src, fake.url("auth.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertEqual(len(fake.closed), 1)
        self.assertEqual(next(iter(fake.closed.values())), self.read_bytes(src))
        # Preemptive: every request carried the credentials, none was answered 401.
        for method, kind, headers in fake.requests:
            self.assertIn("Authorization", headers, f"{kind} without credentials")
        self.assertTrue(all(h.get("User-Agent", "").startswith("bits-upload/")
                            for _, _, h in fake.requests))

    def test_basic_auth_from_netrc(self):
        fake = FakeBitsServer(self, auth=("bob", "pw"))
        src = self.make_file("netrc.bin", 10 * KIB, seed=15)
        netrc = os.path.join(self.tmp, "netrc")
        with open(netrc, "w") as f:
            f.write("machine elsewhere login x password y\n"
                    "machine 127.0.0.1\n  login bob\n  password pw\n")
        r = self.run_client("--netrc", netrc, src, fake.url("netrc.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertEqual(len(fake.closed), 1)

    def test_authentication_errors_are_fatal(self):
        fake = FakeBitsServer(self, auth=("alice", "s3cret"))
        src = self.make_file("noauth.bin", 10 * KIB)
        r = self.run_client(src, fake.url("noauth.bin"))
        self.assert_exit(r, EXIT_REFUSED)
        self.assertIn("requires authentication", r.stderr)
        r = self.run_client("--user", "alice", "--password", "wrong", src, fake.url("noauth.bin"))
        self.assert_exit(r, EXIT_REFUSED)
        self.assertIn("authentication failed", r.stderr)
        self.assertIn("401", r.stderr)

    def test_reply_is_downloaded_and_resumed_with_range(self):
        reply = PatternSource(300 * KIB + 3, 16).read(0, 300 * KIB + 3)
        fake = FakeBitsServer(self, reply=reply, cut_first_reply=True)
        src = self.make_file("reply.bin", 100 * KIB, seed=17)
        out = os.path.join(self.tmp, "reply.out")
        r = self.run_client("--reply", out, "--retry-max-delay", "1", src, fake.url("reply.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertEqual(self.read_bytes(out), reply)
        self.assertFalse(os.path.exists(out + ".part"))
        # First GET without Range, cut; the second continued where the bytes ended.
        self.assertEqual(fake.reply_gets[0], None)
        self.assertEqual(fake.reply_gets[1], f"bytes={len(reply) // 2}-")
        # The reply was fetched before Close-Session (which deletes it on a real server).
        kinds = [k if m == "BITS_POST" else "GET" for m, k, _ in fake.requests]
        self.assertLess(kinds.index("GET"), kinds.index("close-session"))

    def test_host_id_is_followed_with_a_ping_first(self):
        fake = FakeBitsServer(self, host_id="127.0.0.1")
        src = self.make_file("hostid.bin", 100 * KIB, seed=18)
        r = self.run_client("--fragment-size", "32K", src, fake.url("hostid.bin", "localhost"))
        self.assert_exit(r, EXIT_OK)
        hosts = [(k, h.get("Host")) for _, k, h in fake.requests]
        create = [k for k, _ in hosts].index("create-session")
        self.assertTrue(all(host == f"localhost:{fake.port}" for _, host in hosts[:create + 1]),
                        hosts)
        after = hosts[create + 1:]
        self.assertEqual(after[0], ("ping", f"127.0.0.1:{fake.port}"))
        self.assertTrue(all(host == f"127.0.0.1:{fake.port}" for _, host in after), after)

    def test_session_not_found_starts_over(self):
        fake = FakeBitsServer(self, forget_at_fragment=3)
        src = self.make_file("lost.bin", 200 * KIB, seed=19)
        r = self.run_client("--fragment-size", "32K", src, fake.url("lost.bin"))
        self.assert_exit(r, EXIT_OK)
        self.assertIn("starting over", r.stderr)
        creates = [k for _, k, _ in fake.requests if k == "create-session"]
        self.assertEqual(len(creates), 2)
        self.assertEqual(list(fake.closed.values()), [self.read_bytes(src)])

    def test_request_headers_follow_the_protocol(self):
        fake = FakeBitsServer(self)
        src = self.make_file("hdr.bin", 70 * KIB, seed=20)
        r = self.run_client("--fragment-size", "32K", src, fake.url("hdr.bin"))
        self.assert_exit(r, EXIT_OK)
        by_kind = {}
        for _, kind, headers in fake.requests:
            by_kind.setdefault(kind, []).append(headers)
        self.assertEqual(list(by_kind), ["ping", "create-session", "fragment", "close-session"])
        create = by_kind["create-session"][0]
        self.assertEqual(create["BITS-Supported-Protocols"], BITS_PROTOCOL_GUID)
        self.assertEqual(create["Content-Name"], "hdr.bin")
        self.assertEqual(create["Content-Length"], "0")
        ranges = [h["Content-Range"] for h in by_kind["fragment"]]
        self.assertEqual(ranges, ["bytes 0-32767/71680", "bytes 32768-65535/71680",
                                  "bytes 65536-71679/71680"])
        sid = by_kind["fragment"][0]["BITS-Session-Id"]
        self.assertEqual(by_kind["close-session"][0]["BITS-Session-Id"], sid)
        self.assertNotIn("BITS-Session-Id", by_kind["ping"][0])


if __name__ == "__main__":
    unittest.main()
