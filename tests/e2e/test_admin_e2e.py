"""The admin listener (issue 8, item 5): /healthz, /readyz, /metrics (parsed by a strict
Prometheus text-format parser, counters checked against what the test sent), /api/sessions,
/api/recent, turning it off, a port that cannot be bound, GET / on the upload listener, and a
store walk that hangs without holding the threads uploads need.
The Host check against DNS rebinding: the listener's address, localhost and admin_allowed_hosts
are answered, any other name gets 421 and no data."""

import glob
import http.client
import json
import math
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from bitsd_harness import (BG_E_SESSION_NOT_FOUND, KIB, Server, ServerTestCase, bitsd_binary)

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class PrometheusFormatError(AssertionError):
    pass


def parse_prometheus(text):
    """Parses the text exposition format (0.0.4) strictly; returns
    {name: {"type": t, "help": h, "samples": {(sample_name, frozenset(labels)): value}}}.

    Refuses: a line that is neither a comment nor a sample, a sample before its TYPE, two
    TYPE or HELP lines for one metric, a sample name that does not belong to the current
    metric (histograms: _bucket/_sum/_count), a series twice, bad label syntax or escapes,
    a value that is not a float, counters that are negative, histogram buckets that are not
    cumulative or whose +Inf differs from _count, and a missing final newline.
    """
    if not text.endswith("\n"):
        raise PrometheusFormatError("the exposition does not end with a newline")
    metrics = {}
    current = None
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}: {line!r}"
        if line == "":
            raise PrometheusFormatError(f"{where}: empty line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.match(name):
                    raise PrometheusFormatError(f"{where}: bad metric name")
                entry = metrics.setdefault(name, {"type": None, "help": None, "samples": {}})
                key = parts[1].lower()
                if entry[key] is not None:
                    raise PrometheusFormatError(f"{where}: second {parts[1]} for {name}")
                if entry["samples"]:
                    raise PrometheusFormatError(f"{where}: {parts[1]} after samples of {name}")
                value = parts[3] if len(parts) > 3 else ""
                if key == "type" and value not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise PrometheusFormatError(f"{where}: unknown type {value!r}")
                entry[key] = value
                current = name
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m:
            raise PrometheusFormatError(f"{where}: not a sample line")
        sample_name, label_text, value_text = m.groups()
        labels = parse_labels(label_text[1:-1] if label_text else "", where)
        if current is None or metrics[current]["type"] is None:
            raise PrometheusFormatError(f"{where}: sample without a TYPE")
        kind = metrics[current]["type"]
        allowed = {current}
        if kind == "histogram":
            allowed = {current + "_bucket", current + "_sum", current + "_count"}
        if sample_name not in allowed:
            raise PrometheusFormatError(f"{where}: {sample_name} is not part of {current}")
        try:
            value = float(value_text)
        except ValueError:
            raise PrometheusFormatError(f"{where}: bad value {value_text!r}")
        key = (sample_name, frozenset(labels.items()))
        if key in metrics[current]["samples"]:
            raise PrometheusFormatError(f"{where}: the same series twice")
        if kind == "counter" and (value < 0 or math.isnan(value)):
            raise PrometheusFormatError(f"{where}: negative counter")
        metrics[current]["samples"][key] = value
    for name, entry in metrics.items():
        if entry["type"] == "histogram":
            check_histogram(name, entry["samples"])
    return metrics


def parse_labels(text, where):
    labels = {}
    i = 0
    while i < len(text):
        m = re.match(r'([a-zA-Z_][a-zA-Z0-9_]*)="', text[i:])
        if not m:
            raise PrometheusFormatError(f"{where}: bad label at {text[i:]!r}")
        name = m.group(1)
        i += m.end()
        value = []
        while True:
            if i >= len(text):
                raise PrometheusFormatError(f"{where}: unterminated label value")
            c = text[i]
            if c == "\\":
                if i + 1 >= len(text) or text[i + 1] not in '\\"n':
                    raise PrometheusFormatError(f"{where}: bad escape in a label value")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
                i += 2
                continue
            if c == '"':
                i += 1
                break
            value.append(c)
            i += 1
        if name in labels:
            raise PrometheusFormatError(f"{where}: label {name} twice")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise PrometheusFormatError(f"{where}: expected ',' between labels")
            i += 1
    return labels


def check_histogram(name, samples):
    buckets = []
    count = None
    for (sample_name, labels), value in samples.items():
        labels = dict(labels)
        if sample_name == name + "_bucket":
            le = labels.get("le")
            if le is None:
                raise PrometheusFormatError(f"{name}: a bucket without le")
            buckets.append((math.inf if le == "+Inf" else float(le), value))
        elif sample_name == name + "_count":
            count = value
    buckets.sort()
    if not buckets or buckets[-1][0] != math.inf:
        raise PrometheusFormatError(f"{name}: no +Inf bucket")
    for (_, a), (_, b) in zip(buckets, buckets[1:]):
        if b < a:
            raise PrometheusFormatError(f"{name}: buckets are not cumulative")
    if count != buckets[-1][1]:
        raise PrometheusFormatError(f"{name}: _count {count} differs from the +Inf bucket")


def value_of(metrics, name, sample=None, **labels):
    entry = metrics.get(name)
    if entry is None:
        raise AssertionError(f"no metric {name}")
    return entry["samples"].get((sample or name, frozenset(labels.items())), 0.0)


class AdminClient:
    def __init__(self, port):
        self.port = port

    def get(self, path, method="GET", headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            conn.close()

    def metrics(self):
        status, headers, body = self.get("/metrics")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        if not headers.get("content-type", "").startswith("text/plain; version=0.0.4"):
            raise AssertionError(f"/metrics content type {headers.get('content-type')!r}")
        return parse_prometheus(body.decode("utf-8"))


class PrometheusParserSelfTest(unittest.TestCase):
    """The parser refuses what it must (so a passing /metrics test means something)."""

    def test_refusals(self):
        good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 1\n"
        parse_prometheus(good)
        for bad in [good.rstrip("\n"),
                    "a_total 1\n",
                    good + "a_total{k=\"v\"} 2\n",
                    good.replace('{k="v"}', '{k="v}'),
                    good.replace('{k="v"}', '{k="\\x"}'),
                    good.replace(" 1\n", " one\n"),
                    good + "# TYPE a_total counter\n",
                    good + "b 1\n",
                    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
                    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 0\n"]:
            with self.assertRaises(PrometheusFormatError, msg=bad):
                parse_prometheus(bad)


class AdminTest(ServerTestCase):

    def start_admin(self, **kw):
        srv, client = self.start(**kw)
        return srv, client, AdminClient(srv.admin_port())

    def test_health_and_readiness(self):
        srv, _, admin = self.start_admin()
        self.assertEqual(admin.get("/healthz")[0], 200)
        status, headers, body = admin.get("/readyz")
        self.assertEqual((status, body), (200, b"ready\n"))
        status, headers, body = admin.get("/readyz", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["content-length"], "6")
        self.assertEqual(admin.get("/nothing-here")[0], 404)
        status, headers, _ = admin.get("/healthz", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")

    def test_metrics_counters_match_what_was_sent(self):
        srv, client, admin = self.start_admin(max_fragment_size=64 * KIB)
        before = admin.metrics()
        self.assertEqual(value_of(before, "bitsd_build_info", version=value_version(before)), 1)
        self.assertEqual(before["bitsd_requests_total"]["samples"], {})

        for _ in range(3):
            self.assert_ok(client.ping())
        data = bytes(range(256)) * 40  # 10240 bytes
        sid = client.new_session("m/one.bin")
        self.assert_ok(client.fragment(sid, data[:4096], 0, len(data), name="m/one.bin"), sid)
        gap = client.fragment(sid, data[8192:], 8192, len(data), name="m/one.bin")  # a gap: 416
        self.assertEqual(gap.status, 416)
        self.assert_ok(client.fragment(sid, data[4096:], 4096, len(data), name="m/one.bin"), sid)
        self.assert_ok(client.close(sid, name="m/one.bin"), sid)
        other = client.new_session("m/two.bin")
        self.assert_ok(client.fragment(other, b"x" * 100, 0, 1000, name="m/two.bin"), other)
        self.assert_ok(client.cancel(other, name="m/two.bin"), other)
        third = client.new_session("m/three.bin")
        self.assert_ok(client.fragment(third, b"y" * 300, 0, 600, name="m/three.bin"), third)
        unknown = client.fragment("{00000000-0000-0000-0000-000000000000}", b"z" * 10, 0, 10,
                                  name="m/four.bin")
        self.assert_bits_error(unknown, 500, BG_E_SESSION_NOT_FOUND)
        self.assertEqual(client.request("BITS_POST", "/elsewhere/x",
                                        [("BITS-Packet-Type", "Ping")]).status, 404)
        self.assertEqual(client.request("GET", "/").status, 200)
        client.reset()

        time.sleep(1.1)  # the store's session counts may be a second old (one walk a second)
        m = admin.metrics()
        count = lambda packet, status: value_of(m, "bitsd_requests_total", packet_type=packet,
                                                status=str(status))
        self.assertEqual(count("Ping", 200), 3)
        self.assertEqual(count("Create-Session", 200), 3)
        self.assertEqual(count("Fragment", 200), 4)
        self.assertEqual(count("Fragment", 416), 1)
        self.assertEqual(count("Fragment", 500), 1)
        self.assertEqual(count("Close-Session", 200), 1)
        self.assertEqual(count("Cancel-Session", 200), 1)
        self.assertEqual(count("other", 404), 1)
        self.assertEqual(count("other", 200), 1)
        self.assertEqual(sum(m["bitsd_requests_total"]["samples"].values()), 16)
        # Body bytes read: 4096 + 2048 (the 416's body, drained) + 6144 + 100 + 300 + 10.
        self.assertEqual(value_of(m, "bitsd_received_bytes_total"), 4096 + 2048 + 6144 + 100 + 300 + 10)
        self.assertEqual(value_of(m, "bitsd_fragment_duration_seconds",
                                  "bitsd_fragment_duration_seconds_count"), 6)
        self.assertEqual(value_of(m, "bitsd_sessions_created_total"), 3)
        self.assertEqual(value_of(m, "bitsd_sessions_completed_total"), 1)
        self.assertEqual(value_of(m, "bitsd_sessions_cancelled_total"), 1)
        self.assertEqual(value_of(m, "bitsd_sessions_expired_total"), 0)
        self.assertEqual(value_of(m, "bitsd_sessions", state="receiving"), 1)
        self.assertEqual(value_of(m, "bitsd_sessions", state="closed"), 1)
        self.assertEqual(value_of(m, "bitsd_sessions", state="cancelled"), 1)
        self.assertEqual(value_of(m, "bitsd_sessions_active"), 1)
        self.assertGreaterEqual(value_of(m, "bitsd_connections_accepted_total"), 1)
        # The test's connection is closed; the server may not have seen the FIN yet.
        self.assertLessEqual(value_of(m, "bitsd_connections_open"), 1)

    def test_open_connections_are_counted(self):
        srv, client, admin = self.start_admin()
        self.assert_ok(client.ping())
        self.assertEqual(value_of(admin.metrics(), "bitsd_connections_open"), 1)
        client.reset()
        for _ in range(200):
            if value_of(admin.metrics(), "bitsd_connections_open") == 0:
                break
            time.sleep(0.05)
        self.assertEqual(value_of(admin.metrics(), "bitsd_connections_open"), 0)

    def test_api_sessions_and_recent(self):
        srv, client, admin = self.start_admin()
        sid = client.new_session("api/a.bin")
        self.assert_ok(client.fragment(sid, b"a" * 250, 0, 1000, name="api/a.bin"), sid)
        done = client.new_session("api/b.bin")
        self.assert_ok(client.fragment(done, b"b" * 10, 0, 10, name="api/b.bin"), done)
        self.assert_ok(client.close(done, name="api/b.bin"), done)
        self.assert_bits_error(client.close("{11111111-1111-1111-1111-111111111111}", name="api/c.bin"),
                               500, BG_E_SESSION_NOT_FOUND)
        status, headers, body = admin.get("/api/sessions")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        doc = json.loads(body)
        self.assertEqual([(s["id"], s["target"], s["state"], s["received"], s["total"]) for s in doc["active"]],
                         [(sid, "/uploads/api/a.bin", "receiving", 250, 1000)])
        # A committed session's bytes left the store: its size is the total.
        self.assertEqual([(s["id"], s["state"], s["total"]) for s in doc["finished"]], [(done, "closed", 10)])
        self.assertEqual(doc["counts"], {"receiving": 1, "committing": 0, "closed": 1, "cancelled": 0})
        status, _, body = admin.get("/api/recent")
        recent = json.loads(body)["recent"]
        self.assertEqual(len(recent), 1)
        self.assertEqual(recent[0]["status"], 500)
        self.assertEqual(recent[0]["error"], BG_E_SESSION_NOT_FOUND)
        self.assertEqual(recent[0]["packet_type"], "Close-Session")
        self.assertEqual(recent[0]["target"], "/uploads/api/c.bin")
        self.assertTrue(recent[0]["client"].startswith("127.0.0.1:"))

    def test_status_page_is_served_self_contained(self):
        srv, _, admin = self.start_admin()
        status, headers, body = admin.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        page = body.decode("utf-8")
        self.assertIn("/api/sessions", page)
        # No external asset: nothing is loaded from another origin.
        self.assertNotRegex(page, r"(src|href)=\"(https?:)?//")
        self.assertNotIn("@import", page)

    def test_admin_off(self):
        for off in ("off", None):
            srv = Server(self, extra={"admin_listen": off}).start()
            client = _client(srv)
            self.assert_ok(client.ping())
            self.assertEqual(client.request("GET", "/").status, 200)
            self.assertNotIn("admin interface", srv.log_text())
            srv.stop()

    def test_admin_port_in_use_stops_start_up(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        self.addCleanup(holder.close)
        port = holder.getsockname()[1]
        srv = Server(self, extra={"admin_listen": f"127.0.0.1:{port}"})
        p = subprocess.run([bitsd_binary(), "--config", srv.config_path], capture_output=True,
                           timeout=30, cwd=srv.root)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"admin_listen: cannot listen on 127.0.0.1:{port}", p.stderr.decode())

    def test_bad_admin_listen_is_refused_naming_the_key(self):
        srv = Server(self, extra={"admin_listen": "localhost:9090"})
        p = subprocess.run([bitsd_binary(), "--config", srv.config_path], capture_output=True,
                           timeout=30, cwd=srv.root)
        self.assertEqual(p.returncode, 2)
        self.assertIn("admin_listen: ", p.stderr.decode())

    def test_get_slash_on_the_upload_listener_is_a_load_balancer_check(self):
        srv, client = self.start()
        r = client.request("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertTrue(r.keep_alive())
        r = client.request("HEAD", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(client.request("GET", "/?probe=1").status, 200)
        self.assertEqual(client.request("GET", "/other").status, 404)
        # BITS itself is untouched.
        self.assert_ok(client.ping())


class AdminHostTest(ServerTestCase):
    """A web page whose name is made to resolve to the admin address (DNS rebinding) reaches the
    admin listener with its own name in Host: only the listener's own address, localhost on a
    loopback listener and the names in admin_allowed_hosts are answered, anything else gets 421
    and no data."""

    def start_admin(self, **kw):
        srv, client = self.start(**kw)
        return srv, client, AdminClient(srv.admin_port())

    def test_a_rebinding_host_is_refused_without_data(self):
        srv, client, admin = self.start_admin()
        sid = client.new_session("secret-name.bin")
        port = admin.port
        for path in ("/api/sessions", "/metrics", "/api/recent", "/", "/healthz"):
            for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}",
                         f"localhost.evil.example:{port}"):
                status, _, body = admin.get(path, headers={"Host": host})
                self.assertEqual(status, 421, f"{path} with Host {host}")
                self.assertNotIn(sid.encode(), body)
                self.assertNotIn(b"secret-name", body)
                self.assertNotIn(b"bitsd_", body)
        # The listener's own address and localhost, with or without the port, are answered.
        for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LocalHost"):
            status, _, body = admin.get("/api/sessions", headers={"Host": host})
            self.assertEqual(status, 200, f"Host {host}")
            self.assertIn(sid.encode(), body)

    def test_a_missing_or_repeated_host(self):
        srv, client, admin = self.start_admin()

        def status_of(head):
            with socket.create_connection(("127.0.0.1", admin.port), timeout=10) as s:
                s.sendall(head)
                answer = b""
                while b"\r\n" not in answer:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                return int(answer.split(b" ", 2)[1])

        self.assertEqual(status_of(b"GET /api/sessions HTTP/1.1\r\n\r\n"), 400)
        self.assertEqual(status_of(b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"),
                         400)
        # No browser sends HTTP/1.0 without Host: a bare script may.
        self.assertEqual(status_of(b"GET /healthz HTTP/1.0\r\n\r\n"), 200)

    def test_admin_allowed_hosts_adds_names(self):
        srv, client, admin = self.start_admin(extra={"admin_allowed_hosts": ["bitsd-admin.internal"]})
        for host in ("bitsd-admin.internal", "BITSD-Admin.internal:8443"):
            status, _, body = admin.get("/metrics", headers={"Host": host})
            self.assertEqual(status, 200, f"Host {host}")
            self.assertIn(b"bitsd_build_info", body)
        self.assertEqual(admin.get("/metrics", headers={"Host": "other.internal"})[0], 421)

    def test_bad_admin_allowed_hosts_is_refused_naming_the_key(self):
        srv = Server(self, extra={"admin_allowed_hosts": ["ok.example", "bad host"]})
        p = subprocess.run([bitsd_binary(), "--config", srv.config_path], capture_output=True,
                           timeout=30, cwd=srv.root)
        self.assertEqual(p.returncode, 2)
        self.assertIn("admin_allowed_hosts[1]: ", p.stderr.decode())


def blocked_in_fifo_open(pid):
    """How many threads of `pid` wait in open(2) of a FIFO for a writer (Linux wchan)."""
    count = 0
    for wchan in glob.glob(f"/proc/{pid}/task/*/wchan"):
        try:
            with open(wchan) as f:
                count += f.read().strip() in ("wait_for_partner", "fifo_open", "pipe_wait")
        except OSError:
            pass
    return count


class AdminStoreListingTest(ServerTestCase):
    """The store walk behind /metrics and /api/sessions has a thread of its own: a walk that
    hangs (here: a session whose metadata is a FIFO, so open(2) waits for a writer, as a hung
    disk would) never holds the blocking pool that Create-Session needs."""

    def test_a_hung_store_walk_never_delays_create_session(self):
        srv, client = self.start(extra={"blocking_threads": 1})
        # The walks at start-up (the outbox's scan on the blocking pool, the first sweep) are
        # over before the FIFO appears: this Create-Session queues behind the scan.
        client.new_session("before.bin")
        time.sleep(0.2)
        sid = "{AB000000-0000-4000-8000-000000000001}"
        folder = os.path.join(srv.data_dir, "sessions", "ab", sid)
        os.makedirs(folder)
        fifo = os.path.join(folder, "metadata.json")
        os.mkfifo(fifo)
        admin = AdminClient(srv.admin_port())
        scrape = {}

        def metrics():
            scrape["status"] = admin.get("/metrics", timeout=60)[0]

        scraper = threading.Thread(target=metrics, daemon=True)

        def release():
            # A writer that opens and closes lets a walk go on (an empty, unreadable session).
            deadline = time.monotonic() + 20
            while ((scraper.is_alive() or blocked_in_fifo_open(srv.pid)) and
                   time.monotonic() < deadline):
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
                scraper.join(0.05)
            if os.path.exists(fifo):
                os.unlink(fifo)

        self.addCleanup(release)
        before = blocked_in_fifo_open(srv.pid)
        scraper.start()
        deadline = time.monotonic() + 3
        while blocked_in_fifo_open(srv.pid) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(scraper.is_alive(), f"/metrics answered {scrape} without reading the FIFO")
        client.timeout = 5
        client.reset()
        r = client.create_session("while-scraping.bin")
        self.assertEqual(r.status, 200, str(r))
        self.assertTrue(scraper.is_alive(), "the walk did not hang: the test proves nothing")
        release()
        scraper.join(10)
        self.assertEqual(scrape.get("status"), 200)


def value_version(metrics):
    for (_, labels) in metrics["bitsd_build_info"]["samples"]:
        return dict(labels)["version"]
    raise AssertionError("no bitsd_build_info sample")


def _client(srv):
    from bitsd_harness import BitsClient
    return BitsClient(srv)


if __name__ == "__main__":
    unittest.main()
