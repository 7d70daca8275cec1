"""TLS listeners (issue 9, item 1).

A listener given as {"address": ..., "tls": {"cert": ..., "key": ...}} speaks TLS 1.2 and 1.3
only. Certificates are made at test time with the `openssl` command (self-signed, EC P-256).
What is shown, against the real binary:

* a whole BITS upload (Create-Session, fragments, Close-Session) over TLS 1.3, the bytes exact,
  with a plain listener serving beside it;
* a TLS 1.2 client works; a TLS 1.1 client (one shown able to speak TLS 1.1 to a Python server)
  is refused at the handshake, logged at debug only, and the daemon keeps serving;
* plain HTTP sent to the TLS port is dropped cleanly (no answer, no error line) and the daemon
  keeps serving;
* SIGHUP with a new certificate and key at the same paths: a new connection sees the new
  certificate (serial and subject) while a connection opened before keeps working; a bad new
  key refuses the reload naming the key and the old certificate stays in use;
* a mismatched key at start-up (and under --check-config) exits 2 naming listen[1].tls.key;
* Basic authentication without allow_basic_without_tls: 401 challenge on the TLS listener,
  403 (no challenge, no password in clear text) on the plain one;
* a TLS client that stalls mid-body is let go after read_timeout_s, the bytes it sent are kept
  (the client resumes from them), and an idle TLS connection does not delay a SIGTERM;
* a delivery of an upload made over TLS names https URLs (BITS-Original-Request-URL to the
  back-end, BITS-Reply-URL to the client), and the upload-reply is served over TLS.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from bitsd_harness import (BITS_PROTOCOL_GUID, E_ACCESSDENIED, KIB, BitsAssertions, BitsClient,
                           PatternSource, Server, bitsd_binary)
from test_delivery_sync_e2e import Backend, hdr

TLS_RE = re.compile(r"listening on 127\.0\.0\.2:(\d+) \(TLS\)")


def make_cert(folder, name, serial):
    """A self-signed EC certificate for 127.0.0.2; returns (cert path, key path)."""
    cert = os.path.join(folder, f"{name}-cert.pem")
    key = os.path.join(folder, f"{name}-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-set_serial", str(serial),
                    "-addext", "subjectAltName=IP:127.0.0.2"],
                   check=True, capture_output=True)
    return cert, key


def wait_for_log(srv, pattern, start, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in srv.log_lines()[start:]:
            if re.search(pattern, line):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n{srv.log_text()}")


def client_context(cafile, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def legacy_context(cafile=None):
    """A client that offers TLS 1.0 and 1.1 only (Debian's default refuses them: lowered)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class TlsTest(BitsAssertions, unittest.TestCase):

    def setUp(self):
        if shutil.which("openssl") is None:
            self.fail("the openssl command is missing (scripts/install-deps test installs it)")
        self.certs = tempfile.mkdtemp(prefix="bitsd-tls-")
        self.addCleanup(shutil.rmtree, self.certs, True)
        self.cert1, self.key1 = make_cert(self.certs, "bitsd-test-1", 1001)
        self.cert2, self.key2 = make_cert(self.certs, "bitsd-test-2", 1002)
        # Both, for a client that must accept either (before and after a reload).
        self.both = os.path.join(self.certs, "both.pem")
        with open(self.both, "w") as out:
            for path in (self.cert1, self.cert2):
                with open(path) as f:
                    out.write(f.read())
        # The files the daemon reads: a copy of cert 1, replaced in place for a reload.
        self.live_cert = os.path.join(self.certs, "live-cert.pem")
        self.live_key = os.path.join(self.certs, "live-key.pem")
        shutil.copy(self.cert1, self.live_cert)
        shutil.copy(self.key1, self.live_key)

    def start(self, upload=None, cert=None, key=None):
        tls = {"cert": cert or self.live_cert, "key": key or self.live_key}
        srv = Server(self, upload=upload,
                     extra={"listen": ["127.0.0.1:0", {"address": "127.0.0.2:0", "tls": tls}]})
        srv.start()
        line = wait_for_log(srv, TLS_RE.pattern, 0)
        self.tls_port = int(TLS_RE.search(line).group(1))
        return srv

    def https(self, ctx=None, timeout=30):
        conn = http.client.HTTPSConnection("127.0.0.2", self.tls_port, timeout=timeout,
                                           context=ctx or client_context(self.cert1))
        self.addCleanup(conn.close)
        return conn

    def bits(self, conn, packet, name, session=None, body=b"", extra=None):
        headers = {"BITS-Packet-Type": packet, "Content-Length": str(len(body))}
        if session:
            headers["BITS-Session-Id"] = session
        headers.update(extra or {})
        conn.request("BITS_POST", f"/uploads/{name}", body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        return r

    def assert_no_error_lines(self, srv):
        bad = [line for line in srv.log_lines() if "[error]" in line or "[critical]" in line]
        self.assertEqual(bad, [], srv.log_text())

    def handshake_failures(self, srv):
        """bitsd_tls_handshake_failures_total from /metrics."""
        admin = http.client.HTTPConnection("127.0.0.1", srv.admin_port(), timeout=10)
        self.addCleanup(admin.close)
        admin.request("GET", "/metrics")
        metrics = admin.getresponse().read().decode()
        failures = re.search(r"^bitsd_tls_handshake_failures_total (\d+)$", metrics, re.M)
        self.assertIsNotNone(failures, metrics)
        return int(failures.group(1))

    def upload_over(self, conn, name, total, seed, fragment=64 * KIB):
        source = PatternSource(total, seed=seed)
        r = self.bits(conn, "Create-Session", name, extra={"BITS-Supported-Protocols": BITS_PROTOCOL_GUID})
        self.assertEqual(r.status, 200, r.headers)
        session = r.headers["BITS-Session-Id"]
        for first in range(0, total, fragment):
            n = min(fragment, total - first)
            r = self.bits(conn, "Fragment", name, session, source.read(first, n),
                          {"Content-Range": f"bytes {first}-{first + n - 1}/{total}"})
            self.assertEqual(r.status, 200, r.headers)
            self.assertEqual(r.headers["BITS-Received-Content-Range"], str(first + n))
        r = self.bits(conn, "Close-Session", name, session)
        self.assertEqual(r.status, 200, r.headers)
        return source

    # ---------------------------------------------------------------------------------------

    def test_a_whole_upload_over_tls_1_3_with_a_plain_listener_beside_it(self):
        srv = self.start()
        conn = self.https(client_context(self.cert1, ssl.TLSVersion.TLSv1_3))
        total = 300 * KIB + 17
        source = self.upload_over(conn, "secure.bin", total, seed=7)
        self.assertEqual(conn.sock.version(), "TLSv1.3")
        self.assert_file(srv.file_path("secure.bin"), source.sha256(), total)
        # One large fragment too: many TLS records per body.
        big = PatternSource(3 * 1024 * KIB, seed=8)
        r = self.bits(conn, "Create-Session", "big.bin", extra={"BITS-Supported-Protocols": BITS_PROTOCOL_GUID})
        session = r.headers["BITS-Session-Id"]
        r = self.bits(conn, "Fragment", "big.bin", session, big.read(0, big.size),
                      {"Content-Range": f"bytes 0-{big.size - 1}/{big.size}"})
        self.assertEqual(r.status, 200, r.headers)
        self.assertEqual(self.bits(conn, "Close-Session", "big.bin", session).status, 200)
        self.assert_file(srv.file_path("big.bin"), big.sha256(), big.size)
        # The plain listener serves as before.
        plain = BitsClient(srv)
        self.addCleanup(plain.reset)
        self.assertEqual(plain.ping().status, 200)
        self.assert_no_error_lines(srv)

    def test_tls_1_2_works_and_tls_1_1_is_refused_at_the_handshake(self):
        srv = self.start()
        conn = self.https(client_context(self.cert1, ssl.TLSVersion.TLSv1_2))
        self.upload_over(conn, "v12.bin", 10 * KIB, seed=3)
        self.assertEqual(conn.sock.version(), "TLSv1.2")

        # The legacy client can speak TLS 1.1: shown against a Python server that allows it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.minimum_version = ssl.TLSVersion.TLSv1
        server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        server_ctx.load_cert_chain(self.cert1, self.key1)
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def serve():
            peer, _ = listener.accept()
            try:
                server_ctx.wrap_socket(peer, server_side=True).close()
            except (ssl.SSLError, OSError):
                peer.close()
        control = threading.Thread(target=serve, daemon=True)
        control.start()
        with legacy_context().wrap_socket(socket.create_connection(listener.getsockname(), timeout=10)) as s:
            self.assertEqual(s.version(), "TLSv1.1")
        control.join(10)

        # bitsd refuses it.
        raw = socket.create_connection(("127.0.0.2", self.tls_port), timeout=10)
        self.addCleanup(raw.close)
        with self.assertRaises(ssl.SSLError):
            legacy_context().wrap_socket(raw)
        # Still serving, and the failure was not an error line.
        self.upload_over(self.https(), "after.bin", 5 * KIB, seed=4)
        self.assert_no_error_lines(srv)
        # Counted for /metrics.
        self.assertGreaterEqual(self.handshake_failures(srv), 1)

    def test_a_client_that_sends_no_client_hello_or_half_of_one_is_let_go_after_read_timeout_s(self):
        srv = Server(self, extra={"read_timeout_s": 1, "listen": [
            "127.0.0.1:0", {"address": "127.0.0.2:0", "tls": {"cert": self.live_cert, "key": self.live_key}}]})
        srv.start()
        self.tls_port = int(TLS_RE.search(wait_for_log(srv, TLS_RE.pattern, 0)).group(1))
        silent = socket.create_connection(("127.0.0.2", self.tls_port), timeout=10)
        self.addCleanup(silent.close)
        half = socket.create_connection(("127.0.0.2", self.tls_port), timeout=10)
        self.addCleanup(half.close)
        half.sendall(bytes.fromhex("160301020001"))  # a record header and the first byte of a ClientHello
        started = time.monotonic()
        for s in (silent, half):
            try:
                self.assertEqual(s.recv(1), b"", "a stalled handshake got an answer")
            except ConnectionResetError:
                pass
        self.assertLess(time.monotonic() - started, 8, "a stalled handshake was kept past read_timeout_s")
        # Both counted; a real client is served meanwhile and after.
        self.upload_over(self.https(), "after-stall.bin", 5 * KIB, seed=5)
        self.assertGreaterEqual(self.handshake_failures(srv), 2)

    def test_plain_http_on_the_tls_port_is_dropped_and_the_daemon_keeps_serving(self):
        srv = self.start()
        raw = socket.create_connection(("127.0.0.2", self.tls_port), timeout=10)
        self.addCleanup(raw.close)
        raw.sendall(b"BITS_POST /uploads/x HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Ping\r\n"
                    b"Content-Length: 0\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        self.assertNotIn(b"HTTP/1.1 200", got, "plain HTTP was served on the TLS port")
        self.upload_over(self.https(), "ok.bin", 5 * KIB, seed=5)
        self.assert_no_error_lines(srv)

    def test_sighup_reads_the_certificate_again_and_a_bad_key_is_refused(self):
        srv = self.start()
        before = self.https(client_context(self.both))
        self.assertEqual(self.bits(before, "Ping", "p").status, 200)
        self.assertEqual(before.sock.getpeercert()["serialNumber"], "03E9")  # 1001

        # New files at the same paths (the listen entry itself is unchanged).
        shutil.copy(self.cert2, self.live_cert)
        shutil.copy(self.key2, self.live_key)
        mark = len(srv.log_lines())
        os.kill(srv.pid, signal.SIGHUP)
        line = wait_for_log(srv, r"configuration reloaded|reload refused", mark)
        self.assertIn("configuration reloaded", line, srv.log_text())
        after = self.https(client_context(self.both))
        self.assertEqual(self.bits(after, "Ping", "p").status, 200)
        cert = after.sock.getpeercert()
        self.assertEqual(cert["serialNumber"], "03EA")  # 1002
        self.assertIn((("commonName", "bitsd-test-2"),), cert["subject"])
        # The connection opened before keeps its session and keeps working.
        self.assertEqual(self.bits(before, "Ping", "p").status, 200)
        self.assertEqual(before.sock.getpeercert()["serialNumber"], "03E9")

        # A key that does not match: refused, naming the key; certificate 2 stays in use.
        shutil.copy(self.cert1, self.live_cert)
        mark = len(srv.log_lines())
        os.kill(srv.pid, signal.SIGHUP)
        line = wait_for_log(srv, r"configuration reloaded|reload refused", mark)
        self.assertIn("reload refused: listen[1].tls.key:", line)
        self.assertIn("does not match", line)
        shutil.copy(self.cert2, self.live_cert)  # what the daemon still serves, for the client
        again = self.https(client_context(self.both))
        self.assertEqual(self.bits(again, "Ping", "p").status, 200)
        self.assertEqual(again.sock.getpeercert()["serialNumber"], "03EA")

    def test_a_mismatched_key_stops_start_up_naming_the_key(self):
        srv = Server(self, extra={"listen": ["127.0.0.1:0", {"address": "127.0.0.2:0",
                                                              "tls": {"cert": self.cert1, "key": self.key2}}]})
        for extra in ([], ["--check-config"]):
            p = subprocess.run([bitsd_binary(), "--config", srv.config_path, *extra],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertRegex(p.stderr, r"bitsd: listen\[1\]\.tls\.key: .*does not match the certificate")
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # A certificate file that is not PEM names the cert key.
        garbage = os.path.join(self.certs, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        srv.config["listen"][1]["tls"] = {"cert": garbage, "key": self.key1}
        srv.write_config()
        p = subprocess.run([bitsd_binary(), "--config", srv.config_path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("listen[1].tls.cert: ", p.stderr)

    def test_basic_without_allow_basic_without_tls_is_served_on_tls_only(self):
        creds = os.path.join(self.certs, "users")
        with open(creds, "w") as f:
            f.write("# nobody yet\n")
        srv = self.start(upload={"auth": {"type": "basic", "credentials_file": creds, "realm": "TLS only"}})
        conn = self.https()
        r = self.bits(conn, "Ping", "p")
        self.assertEqual(r.status, 401)
        self.assertIn('Basic realm="TLS only"', r.headers["WWW-Authenticate"])
        plain = BitsClient(srv)
        self.addCleanup(plain.reset)
        r = plain.ping()
        self.assert_bits_error(r, 403, E_ACCESSDENIED)
        self.assertIsNone(r.headers.get("WWW-Authenticate"))

    def test_a_delivery_names_https_urls_and_the_reply_is_served_over_tls(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 200, "body": "reply over tls"}})
        srv = self.start(upload={"notification": {"type": "value", "url": backend.url, "timeout_s": 20,
                                                  "delivery": "sync"}})
        conn = self.https()
        data = os.urandom(100 * KIB + 1)
        r = self.bits(conn, "Create-Session", "d.bin", extra={"BITS-Supported-Protocols": BITS_PROTOCOL_GUID})
        session = r.headers["BITS-Session-Id"]
        r = self.bits(conn, "Fragment", "d.bin", session, data,
                      {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
        self.assertEqual(r.status, 200, r.headers)
        origin = f"https://127.0.0.2:{self.tls_port}/"
        reply_url = r.headers["BITS-Reply-URL"]
        self.assertTrue(reply_url.startswith(origin), reply_url)
        sent = backend.requests()[-1]
        self.assertEqual(hdr(sent, "BITS-Original-Request-URL"), origin + "uploads/d.bin")
        conn.request("GET", reply_url[len(origin) - 1:])
        reply = conn.getresponse()
        self.assertEqual((reply.status, reply.read()), (200, b"reply over tls"))
        # The same connection goes on (keep-alive after the reply).
        self.assertEqual(self.bits(conn, "Close-Session", "d.bin", session).status, 200)

    def test_a_stalled_tls_body_is_cut_and_kept_and_sigterm_is_not_delayed(self):
        srv = Server(self, extra={"read_timeout_s": 2, "min_body_rate_bytes_per_s": 0, "listen": [
            "127.0.0.1:0", {"address": "127.0.0.2:0", "tls": {"cert": self.live_cert, "key": self.live_key}}]})
        srv.start()
        self.tls_port = int(TLS_RE.search(wait_for_log(srv, TLS_RE.pattern, 0)).group(1))
        conn = self.https()
        r = self.bits(conn, "Create-Session", "slow.bin", extra={"BITS-Supported-Protocols": BITS_PROTOCOL_GUID})
        session = r.headers["BITS-Session-Id"]
        total = 64 * KIB
        data = os.urandom(total)
        raw = client_context(self.cert1).wrap_socket(
            socket.create_connection(("127.0.0.2", self.tls_port), timeout=20), server_hostname="127.0.0.2")
        self.addCleanup(raw.close)
        raw.sendall((f"BITS_POST /uploads/slow.bin HTTP/1.1\r\nHost: 127.0.0.2\r\n"
                     f"BITS-Packet-Type: Fragment\r\nBITS-Session-Id: {session}\r\n"
                     f"Content-Range: bytes 0-{total - 1}/{total}\r\nContent-Length: {total}\r\n\r\n").encode())
        raw.sendall(data[:20000])
        started = time.monotonic()
        try:
            self.assertEqual(raw.recv(4096), b"", "a stalled body was answered")
        except (ssl.SSLError, ConnectionResetError):
            pass  # closed without close_notify or reset: both are a cut
        self.assertLess(time.monotonic() - started, 15, "the stalled body was not cut")
        # The client resumes from what arrived.
        r = self.bits(conn, "Fragment", "slow.bin", session, data[:10],
                      {"Content-Range": f"bytes 0-9/{total}"})
        self.assertEqual(r.headers["BITS-Received-Content-Range"], "20000", r.headers)
        # An idle TLS connection (this one) does not hold up a stop.
        started = time.monotonic()
        self.assertEqual(srv.stop(), 0)
        self.assertLess(time.monotonic() - started, 5)


if __name__ == "__main__":
    unittest.main()
