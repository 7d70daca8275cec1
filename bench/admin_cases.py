"""The admin rows of bench/run, Python standard library only.

* ``scrape``: Create-Session latency (p50, p99, one keep-alive connection, one request every
  2 ms for a few seconds) with N sessions on disk, first with nobody scraping, then while two
  scrapers fetch
  /metrics and /api/sessions back to back (the store walk behind them, cached for a second,
  runs about once a second over all N sessions). The walk has a thread of its own: the figure
  says what it still costs Create-Session on the shared CPU. Every Create-Session is checked
  (200 and a session id) and every scrape (200).

Figures are reported, never asserted.
"""

import http.client
import os
import re
import threading
import time

import httpclient

ADMIN_RE = re.compile(r"admin interface on http://127\.0\.0\.1:(\d+)/")


class CaseError(RuntimeError):
    pass


def admin_port(bitsd, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(bitsd.log_path, "rb") as f:
            m = ADMIN_RE.search(f.read().decode("utf-8", "replace"))
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    raise CaseError("no 'admin interface on' line in bitsd's log")


def percentile_ms(samples, q):
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)] * 1000


def create_sessions(port, prefix, count=None, seconds=None, interval=0.002):
    """Latencies (s) of `count` Create-Sessions back to back, or of one every `interval` for
    `seconds`, over one keep-alive connection."""
    latencies = []
    end = time.perf_counter() + seconds if seconds else None
    with httpclient.HttpConnection(port) as c:
        i = 0
        while (i < count) if count is not None else (time.perf_counter() < end):
            t = time.perf_counter()
            httpclient.create_session(c, f"/uploads/scrape/{prefix}{i:06d}.bin")
            latencies.append(time.perf_counter() - t)
            i += 1
            if seconds:
                time.sleep(max(0.0, t + interval - time.perf_counter()))
    return latencies


def run_scrape(bench, Row, Bitsd):
    p = bench.p
    k, seconds = p["scrape_sessions"], p["scrape_seconds"]
    label = (f"latency: Create-Session p99 while /metrics and /api/sessions are scraped, "
             f"{k:,} sessions on disk, ms")
    base = bench.fresh_dir("scrape")

    def fn(row):
        b = Bitsd(bench, "bitsd-scrape", "none", os.path.join(base, "data"), os.path.join(base, "files"),
                  extra={"admin_listen": "127.0.0.1:0"})
        with b.start():
            create_sessions(b.port, "p", k)
            admin = admin_port(b)
            idle = create_sessions(b.port, "i", seconds=seconds)
            stop = threading.Event()
            scrapes, failures = [0], []

            def scraper():
                while not stop.is_set():
                    for path in ("/metrics", "/api/sessions"):
                        conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=120)
                        try:
                            conn.request("GET", path)
                            r = conn.getresponse()
                            r.read()
                            if r.status != 200:
                                failures.append(f"{path} answered {r.status}")
                            scrapes[0] += 1
                        finally:
                            conn.close()

            threads = [threading.Thread(target=scraper, daemon=True) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.5)  # the first walk over all k sessions is under way
            try:
                loaded = create_sessions(b.port, "l", seconds=seconds)
            finally:
                stop.set()
                for t in threads:
                    t.join(120)
            if failures:
                raise CaseError(failures[0])
        i50, i99 = percentile_ms(idle, 0.5), percentile_ms(idle, 0.99)
        l50, l99 = percentile_ms(loaded, 0.5), percentile_ms(loaded, 0.99)
        row.bitsd = f"p99 {l99:.2f} ms, p50 {l50:.2f} ms while scraped ({scrapes[0]:,} scrapes)"
        row.reference = (f"unscraped p99 {i99:.2f} ms, p50 {i50:.2f} ms ({len(idle):,} and "
                         f"{len(loaded):,} Create-Sessions, one per 2 ms for {seconds} s each)")
        row.ratio = f"{l99 / i99:.1f}x" if i99 > 0 else "—"
        row.target = "p99 < 5 ms"
        row.verdict = "met" if l99 < 5 else "**missed**"
        row.data = {"sessions": k, "seconds": seconds, "idle_p50_ms": i50, "idle_p99_ms": i99,
                    "scraped_p50_ms": l50, "scraped_p99_ms": l99, "scrapes": scrapes[0]}

    bench.case(Row(label, "none"), fn)
