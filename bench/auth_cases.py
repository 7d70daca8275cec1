"""The Basic brute-force row of bench/run, Python standard library only.

``auth_bruteforce``: Ping p99 of a prefix without authentication, and the time of an 8 MiB
upload there (Create-Session, 1 MiB Fragments, Close-Session; the file verified by size and
SHA-256), while 32 connections send wrong passwords as fast as bitsd answers to another prefix
with Basic authentication (a yescrypt user, as `bitsd passwd` writes it), against the idle Ping
p99 of the same bitsd measured just before. Two rows: with
limits.auth_failures_per_minute_per_client off (every guess costs a hash: what the password
pool's isolation alone gives), and at its default (30: a guesser soon costs no hash at all).
The attackers run in a process of their own so that they do not take the measuring client's
interpreter lock.

Figures are reported against the targets (Ping p99 under 100 ms, upload under 5 s), never
asserted.
"""

import base64
import hashlib
import multiprocessing
import os
import subprocess
import threading
import time

import httpclient

MIB = 1024 * 1024
ATTACKERS = 32
UPLOAD_SIZE = 8 * MIB
PING_P99_TARGET_MS = 100.0
UPLOAD_TARGET_S = 5.0


class CaseError(RuntimeError):
    pass


def attack(port, done, counts):
    """32 connections of wrong passwords until `done` is set (a process of its own)."""

    def one(i):
        sent = 0
        conn = None
        while not done.is_set():
            try:
                if conn is None:
                    conn = httpclient.HttpConnection(port, timeout=60)
                auth = base64.b64encode(f"alice:guess-{i}-{sent}".encode()).decode()
                r = conn.request("BITS_POST", "/basic/x", [("BITS-Packet-Type", "Ping"),
                                                         ("Authorization", f"Basic {auth}")])
                sent += 1
                if (r.header("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, httpclient.HttpError):
                if conn is not None:
                    conn.close()
                conn = None
        counts[i] = sent
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(ATTACKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def pings(port, seconds):
    """Pings on one keep-alive connection for `seconds` (after 20 not counted: the warm-up)."""
    lat = []
    with httpclient.HttpConnection(port) as c:
        end = None
        while end is None or time.perf_counter() < end:
            t0 = time.perf_counter()
            r = c.request("BITS_POST", "/uploads/ping", [("BITS-Packet-Type", "Ping")])
            lat.append(time.perf_counter() - t0)
            if r.status != 200:
                raise CaseError(f"Ping answered {r.status}")
            if end is None and len(lat) == 20:
                end = time.perf_counter() + seconds
                lat.clear()
    return lat


def p99_ms(lat):
    return sorted(lat)[max(0, int(len(lat) * 0.99) - 1)] * 1000


def upload(port, dest_dir):
    """8 MiB in 1 MiB Fragments; returns the seconds from Create-Session to Close-Session."""
    data = os.urandom(UPLOAD_SIZE)
    path = "/uploads/brute-force-upload.bin"
    t0 = time.monotonic()
    with httpclient.HttpConnection(port, timeout=120) as c:
        sid = httpclient.create_session(c, path)
        for first in range(0, UPLOAD_SIZE, MIB):
            r = httpclient.fragment(c, path, sid, first, data[first:first + MIB], UPLOAD_SIZE)
            if r.status != 200:
                raise CaseError(f"Fragment at {first}: {r.status}")
        r = c.request("BITS_POST", path, [("BITS-Packet-Type", "Close-Session"), ("BITS-Session-Id", sid)])
        if r.status != 200:
            raise CaseError(f"Close-Session: {r.status}")
    took = time.monotonic() - t0
    landed = os.path.join(dest_dir, "brute-force-upload.bin")
    with open(landed, "rb") as f:
        if hashlib.sha256(f.read()).digest() != hashlib.sha256(data).digest():
            raise CaseError("the upload landed with other bytes")
    return took


def credentials_line(bitsd):
    p = subprocess.run([bitsd, "passwd", "alice"], input="the right one\n", capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0 or not p.stdout.startswith("alice:$y$"):
        raise CaseError(f"bitsd passwd failed: {p.stderr.strip()}")
    return p.stdout


def run_auth_bruteforce(bench, row_class):
    ping_s = 2 if bench.quick else 10  # of Pings under attack (idle: half as long)
    for limit, what in ((0, "limit off: every guess hashed"), (30, "default limit 30/min")):
        label = (f"Basic brute force ({ATTACKERS} connections, {what}): Ping p99 of another prefix "
                 f"and an 8 MiB upload there, against idle")

        def fn(row, limit=limit):
            base = bench.fresh_dir("auth-bruteforce")
            users = os.path.join(base, "users.passwd")
            with open(users, "w") as f:
                f.write(credentials_line(bench.bitsd))
            extra_uploads = [{"url_prefix": "/basic/", "destination_dir": os.path.join(base, "basic"),
                              "auth": {"type": "basic", "credentials_file": users, "realm": "bench",
                                       "allow_basic_without_tls": True}}]
            limits = {"max_connections": 1000000, "max_connections_per_client": 0,
                      "max_open_sessions_per_client": 0, "create_sessions_per_minute_per_client": 0,
                      "auth_failures_per_minute_per_client": limit}
            with bench.new_bitsd("auth-bruteforce", "none", extra_uploads=extra_uploads,
                                 extra={"limits": limits}).start() as b:
                idle = pings(b.port, ping_s / 2)
                ctx = multiprocessing.get_context("fork")
                done = ctx.Event()
                counts = ctx.Array("i", ATTACKERS)
                attackers = ctx.Process(target=attack, args=(b.port, done, counts))
                attackers.start()
                try:
                    time.sleep(0.5)  # under way
                    t0 = time.monotonic()
                    loaded = pings(b.port, ping_s)
                    upload_s = upload(b.port, b.dest_dir)
                    attack_s = time.monotonic() - t0 + 0.5
                finally:
                    done.set()
                    attackers.join(60)
                    if attackers.is_alive():
                        attackers.kill()
                guesses = sum(counts)
            i99, l99 = p99_ms(idle), p99_ms(loaded)
            row.bitsd = (f"Ping p99 {l99:.2f} ms (max {max(loaded) * 1000:.1f} ms, {len(loaded):,} Pings); "
                         f"8 MiB upload {upload_s:.2f} s; {guesses / attack_s:,.0f} guesses/s answered")
            row.reference = f"idle Ping p99 {i99:.2f} ms ({len(idle):,} Pings)"
            row.ratio = f"{l99 / i99:.1f}x idle" if i99 > 0 else "—"
            row.target = f"Ping p99 < {PING_P99_TARGET_MS:.0f} ms, upload < {UPLOAD_TARGET_S:.0f} s"
            row.verdict = "met" if l99 < PING_P99_TARGET_MS and upload_s < UPLOAD_TARGET_S else "**missed**"
            row.data = {"idle_p99_ms": i99, "loaded_p99_ms": l99, "loaded_max_ms": max(loaded) * 1000,
                        "upload_s": upload_s, "guesses": guesses, "attack_s": attack_s, "limit": limit,
                        "pings": len(loaded)}
        bench.case(row_class(label, "none"), fn)
