"""The delivery rows of bench/run (issue 7), Python standard library only.

* ``delivery``: sync deliveries per second of 64 KiB uploads (Create-Session, one Fragment with
  the whole file, Close-Session) to a prefix with a by-reference notification whose back-end
  (tests/e2e/backend_server.py, its own process) answers at once, against the same uploads to
  a prefix without notification, in the same bitsd and the same run. Every upload is checked:
  the plain ones by size and SHA-256 of the file landed, the delivered ones by the back-end's
  record (one request per session, Repr-Digest the file's SHA-256).
* ``delivery_stall``: Ping rate (ab -k, as the `ping` case) while 16 sync deliveries hang on a
  back-end that does not answer, against the idle Ping rate of the same bitsd measured just
  before. The 16 hangs are checked (the back-end received 16 notifications, no client got its
  Ack) before and after the measurement.

Figures are reported, never asserted.
"""

import base64
import hashlib
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import threading
import time

import httpclient

KIB = 1024
HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = os.path.join(os.path.dirname(HERE), "tests", "e2e", "backend_server.py")
UPLOAD_SIZE = 64 * KIB
STALLED = 16


class CaseError(RuntimeError):
    pass


class Backend:
    """backend_server.py as its own process; its request record is read with GET /_requests."""

    def __init__(self, control):
        self.proc = subprocess.Popen([sys.executable, BACKEND], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.port = int(self.proc.stdout.readline())
        self.control(control)

    def _exchange(self, method, path, body=b""):
        with httpclient.HttpConnection(self.port, timeout=60) as c:
            return c.request(method, path, [], body)

    def control(self, state):
        r = self._exchange("POST", "/_control", json.dumps(state).encode())
        if r.status != 204:
            raise CaseError(f"back-end control refused: {r.status}")

    def requests(self):
        return json.loads(self._exchange("GET", "/_requests").body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def notification(port, timeout_s=120):
    return {"type": "reference", "url": f"http://127.0.0.1:{port}/ingest",
            "timeout_s": timeout_s, "delivery": "sync"}


def payload(worker):
    return random.Random(4000 + worker).randbytes(UPLOAD_SIZE)


def upload_loop(args):
    """One worker process: 64 KiB uploads on one keep-alive connection until the deadline.
    Returns (session ids, error text or None)."""
    port, prefix, worker, deadline = args
    data = payload(worker)
    done = []
    try:
        with httpclient.HttpConnection(port, timeout=120) as c:
            i = 0
            while time.time() < deadline:
                path = f"{prefix}w{worker:02d}/u{i:06d}.bin"
                i += 1
                sid = httpclient.create_session(c, path)
                r = httpclient.fragment(c, path, sid, 0, data, len(data))
                if r.status != 200 or r.header("BITS-Received-Content-Range") != str(len(data)):
                    return done, f"final Fragment of {path}: {r.status} {r.headers}"
                r = c.request("BITS_POST", path, [("BITS-Packet-Type", "Close-Session"),
                                                  ("BITS-Session-Id", sid)])
                if r.status != 200:
                    return done, f"Close-Session of {path}: {r.status} {r.headers}"
                done.append((path, sid))
    except Exception as e:  # reported by the parent as the case's failure
        return done, f"worker {worker}: {e!r}"
    return done, None


def drive(port, prefix, workers, seconds):
    """Uploads from `workers` processes for `seconds`; returns (uploads, wall seconds)."""
    ctx = multiprocessing.get_context("fork")
    t0 = time.time()
    deadline = t0 + seconds
    with ctx.Pool(workers) as pool:
        results = pool.map(upload_loop, [(port, prefix, w, deadline) for w in range(workers)])
    elapsed = time.time() - t0
    uploads = []
    for w, (done, error) in enumerate(results):
        if error:
            raise CaseError(error)
        uploads += [(w, path, sid) for path, sid in done]
    if not uploads:
        raise CaseError(f"no upload to {prefix} completed in {seconds} s")
    return uploads, elapsed


def run_delivery(bench, row_class, fmt_rate):
    p = bench.p
    seconds = p["delivery_seconds"]
    workers = p["delivery_workers"]
    label = (f"sync delivery: 64 KiB uploads per second (Create-Session, one Fragment, "
             f"Close-Session; {workers} client processes, {seconds} s), by-reference "
             f"notification to a back-end that answers at once, against the same uploads "
             f"without notification")

    def fn(row):
        with Backend({"default": {"status": 200}}) as backend:
            base = bench.fresh_dir("delivery")
            notify_dest = os.path.join(base, "notified")
            extra = [{"url_prefix": "/notify/", "destination_dir": notify_dest,
                      "allow_overwrites": True, "notification": notification(backend.port)}]
            with bench.new_bitsd("delivery", "none", extra_uploads=extra).start() as b:
                plain, plain_s = drive(b.port, "/uploads/", workers, seconds)
                notified, notified_s = drive(b.port, "/notify/", workers, seconds)
                dest = b.dest_dir
            # Plain uploads: every file landed whole.
            digests = {w: hashlib.sha256(payload(w)).hexdigest() for w in range(workers)}
            for w, path, _ in plain:
                f = os.path.join(dest, *path[len("/uploads/"):].split("/"))
                with open(f, "rb") as fh:
                    content = fh.read()
                if len(content) != UPLOAD_SIZE or hashlib.sha256(content).hexdigest() != digests[w]:
                    raise CaseError(f"{f}: not the uploaded bytes")
            # Delivered uploads: one notification per session, with the file's digest.
            b64 = {w: base64.b64encode(hashlib.sha256(payload(w)).digest()).decode()
                   for w in range(workers)}
            seen = {}
            for r in backend.requests():
                h = {k.lower(): v for k, v in r["headers"]}
                seen.setdefault(h.get("bits-session-id"), []).append(h.get("repr-digest"))
            for w, path, sid in notified:
                got = seen.get(sid)
                if not got:
                    raise CaseError(f"{path} ({sid}) never reached the back-end")
                if any(d != f"sha-256=:{b64[w]}:" for d in got):
                    raise CaseError(f"{path} ({sid}): wrong Repr-Digest {got}")
        rate = len(notified) / notified_s
        ref = len(plain) / plain_s
        row.bitsd = f"{fmt_rate(rate)} deliveries/s ({len(notified):,} uploads delivered)"
        row.reference = f"same uploads without notification: {fmt_rate(ref)} uploads/s"
        row.ratio = f"{rate / ref:.2f}x without notification"
        row.target = "none set (reported)"
        row.verdict = "reported"
        row.data = {"deliveries_per_s": rate, "plain_uploads_per_s": ref,
                    "delivered": len(notified), "plain": len(plain), "workers": workers,
                    "seconds": seconds}
    bench.case(row_class(label, "n/a: bitsd ran with none"), fn)


def run_delivery_stall(bench, row_class, fmt_rate):
    p = bench.p
    label = (f"Ping rate while {STALLED} sync deliveries hang on a stalled back-end "
             f"(ab -k, {p['ab_connections']} connections, {p['ab_seconds']} s), against the "
             f"idle Ping rate of the same bitsd, requests/s")

    def fn(row):
        stall_s = p["ab_seconds"] * 2 + 60
        with Backend({"default": {"status": 200, "stall_s": stall_s}}) as backend:
            extra = [{"url_prefix": "/notify/", "destination_dir":
                      os.path.join(bench.fresh_dir("delivery-stall"), "notified"),
                      "notification": notification(backend.port, timeout_s=240)}]
            with bench.new_bitsd("delivery-stall", "none", extra_uploads=extra).start() as b:
                url = f"http://127.0.0.1:{b.port}/uploads/ping"
                idle, _ = bench.ab(url, "bitsd-idle")
                answered = []
                conns = []

                def hang(i):
                    c = httpclient.HttpConnection(b.port, timeout=stall_s + 30)
                    conns.append(c)
                    path = f"/notify/stall{i:02d}.bin"
                    data = payload(i)
                    sid = httpclient.create_session(c, path)
                    try:
                        httpclient.fragment(c, path, sid, 0, data, len(data))
                        answered.append(i)
                    except (OSError, httpclient.HttpError):
                        pass  # the connection is closed at the end of the case

                threads = [threading.Thread(target=hang, args=(i,), daemon=True)
                           for i in range(STALLED)]
                for t in threads:
                    t.start()
                deadline = time.monotonic() + 60
                while len(backend.requests()) < STALLED:
                    if time.monotonic() > deadline:
                        raise CaseError(f"only {len(backend.requests())} of {STALLED} "
                                        f"notifications reached the back-end")
                    time.sleep(0.1)
                stalled, _ = bench.ab(url, "bitsd-stalled")
                if answered or len(backend.requests()) != STALLED:
                    raise CaseError(f"the deliveries did not stay hung: {len(answered)} answered, "
                                    f"{len(backend.requests())} notifications")
                for c in conns:
                    try:
                        c.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    c.close()
        r = stalled / idle
        row.bitsd = f"{stalled:,.0f} req/s with {STALLED} deliveries hung"
        row.reference = f"idle: {idle:,.0f} req/s"
        row.ratio = f"{r:.2f}x idle"
        row.target = "within 10% of idle (≥ 0.90x)"
        row.verdict = "met" if r >= 0.9 else "**missed**"
        row.data = {"idle_rps": idle, "stalled_rps": stalled, "ratio_idle": r,
                    "stalled_deliveries": STALLED}
    bench.case(row_class(label, "n/a: Ping touches no disk (bitsd ran with none)"), fn)
