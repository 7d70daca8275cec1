#!/usr/bin/env python3
"""The cases of bench/run (Python standard library only; bench/run starts nginx and calls this).

Every figure is measured in this run, on this machine, against a reference measured in the same
run: nginx (WebDAV PUT, `return 200`) or `dd conv=fdatasync`. Every upload is verified (size and
SHA-256 against its source) before its figure is used; a case that fails prints FAILED and the
exit status is 1. Figures are never compared with a pass mark here: targets are reported, not
asserted.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpclient  # noqa: E402
import delivery_cases  # noqa: E402  (issue 7's rows)
import auth_cases  # noqa: E402  (the Basic brute-force rows)
import admin_cases  # noqa: E402  (the admin listener's rows)

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
MB = 1000 * 1000  # figures are in MB/s with 1 MB = 10^6 bytes

LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

FULL = dict(single_size=GIB, single_fragment=8 * MIB,
            conc_sessions=64, conc_size=16 * MIB, conc_fragment=MIB,
            ab_seconds=10, ab_connections=64,
            mem_sessions=1000, idle_connections=10000,
            hold_connections=2000, stall_uploads=8, stall_upload_size=256 * MIB,
            stall_commit_size=GIB, stall_pings=2000,
            recovery_sessions=10000, recovery_starts=3,
            delivery_seconds=10, delivery_workers=8,
            scrape_sessions=20000, scrape_seconds=10)
QUICK = dict(single_size=64 * MIB, single_fragment=8 * MIB,
             conc_sessions=8, conc_size=4 * MIB, conc_fragment=MIB,
             ab_seconds=2, ab_connections=64,
             mem_sessions=100, idle_connections=200,
             hold_connections=200, stall_uploads=8, stall_upload_size=8 * MIB,
             stall_commit_size=64 * MIB, stall_pings=300,
             recovery_sessions=100, recovery_starts=1,
            delivery_seconds=2, delivery_workers=4,
            scrape_sessions=500, scrape_seconds=2)


CASES = ("single", "concurrent", "ping", "sessions", "idle", "hold", "tls_hold", "stall", "recovery",
         "delivery", "delivery_stall", "auth_bruteforce", "scrape")


class CaseError(RuntimeError):
    """A case could not produce a verified figure."""


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def human_size(n):
    if n % GIB == 0:
        return f"{n // GIB} GiB"
    if n % MIB == 0:
        return f"{n // MIB} MiB"
    return f"{n} bytes"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MIB)
            if not b:
                return h.hexdigest()
            h.update(b)


def make_source(path, size, seed):
    """A file of deterministic pseudo-random bytes (incompressible); returns its SHA-256."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = rng.randbytes(min(8 * MIB, left))
            f.write(b)
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def verify_file(path, size, sha, what):
    if not os.path.isfile(path):
        raise CaseError(f"{what}: {path} does not exist after the upload")
    got = os.path.getsize(path)
    if got != size:
        raise CaseError(f"{what}: {path} has {got} bytes, expected {size}")
    if sha is not None and sha256_file(path) != sha:
        raise CaseError(f"{what}: SHA-256 of {path} differs from the source")


def socket_tls(ctx, port):
    """One TLS connection to 127.0.0.1:port (a context manager)."""
    raw = httpclient.socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise CaseError(f"no VmRSS for pid {pid}")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled_cpu_s(pid, timeout=30.0):
    """CPU time of a process once it stopped using CPU (no tick for 0.3 s)."""
    last, since = cpu_s(pid), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu_s(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.3:
            break
    return last


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def settle_disk():
    """Flush what earlier cases left dirty, so one case's writeback does not bill the next."""
    os.sync()
    time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class Bitsd:
    """One bitsd process with its own config; waits for `listening on 127.0.0.1:PORT`."""

    def __init__(self, bench, name, policy, data_dir, dest_dir, extra_uploads=(), extra=None):
        self.bench = bench
        self.name = name
        self.policy = policy
        self.data_dir = data_dir
        self.dest_dir = dest_dir
        self.config = os.path.join(bench.tmp, f"{name}.json")
        self.log_path = os.path.join(bench.tmp, f"{name}.log")
        self.pid_file = os.path.join(bench.tmp, "pids", f"{name}.pid")
        self.proc = None
        self.port = None
        self.ready_s = None
        cfg = {
            "listen": ["127.0.0.1:0"],
            "data_dir": data_dir,
            "fsync": policy,
            "uploads": [{"url_prefix": "/uploads/", "destination_dir": dest_dir,
                         "allow_overwrites": True, "max_upload_size": 0,
                         "session_timeout_s": 1209600}] + list(extra_uploads),
            "threads": 0,
            # info: the `listening on` line is logged at info (one line per session otherwise).
            "log_level": "info",
            # As nginx here (access_log off): no line per request, no admin port to collide on.
            "access_log_level": "off",
            "admin_listen": "off",
            # Every bench client comes from 127.0.0.1: the per-client caps would measure
            # themselves (10,000 idle connections from one address), not the server.
            "limits": {"max_connections": 1000000, "max_connections_per_client": 0,
                       "max_open_sessions_per_client": 0, "create_sessions_per_minute_per_client": 0},
        }
        cfg.update(extra or {})
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)

    def start(self, timeout=30.0):
        ready = threading.Event()
        stamp = {}
        logf = open(self.log_path, "ab")

        def drain(stream):
            # Keeps reading stderr for the whole life of the process: a full pipe would block it.
            for line in stream:
                logf.write(line)
                if "t" not in stamp:
                    m = LISTENING_RE.search(line.decode("utf-8", "replace"))
                    if m:
                        stamp["t"] = time.monotonic()
                        stamp["port"] = int(m.group(1))
                        ready.set()
            logf.flush()

        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.bench.bitsd, "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.PIPE)
        with open(self.pid_file, "w") as f:
            f.write(str(self.proc.pid))
        self._drain = threading.Thread(target=drain, args=(self.proc.stderr,), daemon=True)
        self._drain.start()
        deadline = t0 + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise CaseError(f"bitsd ({self.name}) did not become ready:\n{tail(self.log_path)}")
        self.t_exec = t0
        self.ready_s = stamp["t"] - t0
        self.port = stamp["port"]
        return self

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/uploads/{name}"

    def rss_kib(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=5)
        try:
            os.unlink(self.pid_file)
        except OSError:
            pass
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_timed(argv_list, logs_prefix, timeout):
    """Starts every command at once, waits for all; returns wall seconds. Raises on failure."""
    procs = []
    t0 = time.monotonic()
    try:
        for i, argv in enumerate(argv_list):
            out = open(f"{logs_prefix}.{i}.log", "wb")
            procs.append((subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT), out, argv))
        deadline = t0 + timeout
        for p, out, argv in procs:
            left = max(0.1, deadline - time.monotonic())
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                raise CaseError(f"{os.path.basename(argv[0])} did not finish within {timeout} s")
        elapsed = time.monotonic() - t0
    finally:
        for p, out, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            out.close()
    for i, (p, _, argv) in enumerate(procs):
        if p.returncode != 0:
            raise CaseError(f"{os.path.basename(argv[0])} exited {p.returncode}: "
                            f"{' '.join(argv)}\n{tail(f'{logs_prefix}.{i}.log')}")
    return elapsed


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

class Row:
    def __init__(self, case, policy):
        self.case = case
        self.policy = policy
        self.bitsd = None        # text
        self.reference = None    # text
        self.ratio = None        # text
        self.target = ""
        self.verdict = ""
        self.error = None
        self.data = {}           # raw numbers for the JSON output

    def as_dict(self):
        return {"case": self.case, "fsync": self.policy, "bitsd": self.bitsd,
                "reference": self.reference, "ratio": self.ratio, "target": self.target,
                "verdict": self.verdict, "error": self.error, "data": self.data}


def fmt_rate(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def states_row(row, results, n, unit, target, met):
    """A memory row from {state: (KiB per connection, RSS before, RSS after)}, worst state first."""
    worst_name = max(results, key=lambda k: results[k][0])
    row.bitsd = (f"{results[worst_name][0]:.2f} KiB per {unit} at worst ({worst_name}); " +
                 "; ".join(f"{k}: {v[0]:.2f}" for k, v in results.items()))
    row.reference = "—"
    row.ratio = "—"
    row.target = target
    row.verdict = verdict(met)
    row.data = {"connections": n,
                "states": {k: {"kib_per_conn": v[0], "rss_before_kib": v[1], "rss_after_kib": v[2]}
                           for k, v in results.items()}}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = args.tmp
        self.bitsd = args.bitsd
        self.client = args.client
        self.quick = args.quick
        self.repeat = args.repeat
        self.p = QUICK if args.quick else FULL
        self.nginx_port = args.nginx_port
        self.nginx_pid = args.nginx_pid
        self.nginx_root = args.nginx_root
        self.rows = []
        self.failures = 0
        self.serial = 0
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work, exist_ok=True)

    # ---- helpers ------------------------------------------------------------------------
    def fresh_dir(self, name):
        self.serial += 1
        path = os.path.join(self.work, f"{self.serial:03d}-{name}")
        os.makedirs(path)
        return path

    def new_bitsd(self, name, policy, **kw):
        base = self.fresh_dir(name)
        return Bitsd(self, f"bitsd-{self.serial:03d}-{name}", policy,
                     os.path.join(base, "data"), os.path.join(base, "files"), **kw)

    def state_file(self, name):
        """A fresh path for bits-upload's resume state (on tmpfs, see bench/run)."""
        self.serial += 1
        return os.path.join(self.args.state_dir, f"{self.serial:04d}-{name}.state")

    def nginx_url(self, name):
        return f"http://127.0.0.1:{self.nginx_port}/dav/{name}"

    def nginx_file(self, name):
        return os.path.join(self.nginx_root, "dav", name)

    def nginx_rss_kib(self):
        return sum(rss_kib(pid) for pid in [self.nginx_pid] + children(self.nginx_pid))

    def require_client(self):
        if not (self.client and os.path.isfile(self.client) and os.access(self.client, os.X_OK)):
            raise CaseError(
                f"bits-upload not found at {self.client!r}: the ingest cases need the BITS client "
                f"(CMake target bits-upload, or --client PATH); no bitsd ingest figure measured")

    def median_of(self, samples):
        return statistics.median(samples)

    def case(self, row, fn):
        log(f"case: {row.case} [{row.policy}]")
        try:
            fn(row)
        except Exception as e:  # a failed case never stops the others
            self.failures += 1
            row.error = str(e)
            row.verdict = "FAILED"
            if not isinstance(e, (CaseError, httpclient.HttpError)):
                row.error += "\n" + traceback.format_exc()
            log(f"FAILED: {row.case} [{row.policy}]: {row.error}")
        self.rows.append(row)
        return row

    # ---- sources ------------------------------------------------------------------------
    def prepare_sources(self):
        p = self.p
        src = os.path.join(self.tmp, "src")
        os.makedirs(src, exist_ok=True)
        log(f"writing sources: {human_size(p['single_size'])} + "
            f"{p['conc_sessions']} x {human_size(p['conc_size'])}")
        self.single_src = os.path.join(src, "single.bin")
        self.single_sha = make_source(self.single_src, p["single_size"], 1)
        self.conc_src = []
        for i in range(p["conc_sessions"]):
            path = os.path.join(src, f"c{i:03d}.bin")
            self.conc_src.append((path, make_source(path, p["conc_size"], 1000 + i)))

    # ---- single-stream ingest -----------------------------------------------------------
    def single_dd(self, flag="conv=fdatasync"):
        """dd of the single-stream source to the same file system: `conv=fdatasync` (the
        issue's ceiling: one flush at the end) or `oflag=dsync` (a flush after every 8 MiB
        write, the pattern of bitsd's durable policy with 8 MiB fragments)."""
        size = self.p["single_size"]
        out = os.path.join(self.fresh_dir("dd"), "dd.out")
        settle_disk()
        t = run_timed([["dd", f"if={self.single_src}", f"of={out}", "bs=8M", flag,
                        "status=none"]], os.path.join(self.tmp, "dd"), 600)
        verify_file(out, size, None, "dd")
        os.unlink(out)
        return size / MB / t

    def single_nginx(self):
        size = self.p["single_size"]
        name = "single.bin"
        settle_disk()
        t = run_timed([["curl", "-sS", "-f", "-T", self.single_src, "-o", "/dev/null",
                        self.nginx_url(name)]], os.path.join(self.tmp, "curl-single"), 600)
        verify_file(self.nginx_file(name), size, self.single_sha, "nginx single-stream PUT")
        os.unlink(self.nginx_file(name))
        return size / MB / t

    def single_bitsd(self, policy):
        self.require_client()
        size = self.p["single_size"]
        with self.new_bitsd(f"single-{policy}", policy).start() as b:
            settle_disk()
            t = run_timed([[self.client, self.single_src, b.url("single.bin"),
                            "--fragment-size", str(self.p["single_fragment"]), "--quiet",
                            "--state", self.state_file("single")]],
                          os.path.join(self.tmp, f"bits-upload-single-{policy}"), 1200)
            dest = os.path.join(b.dest_dir, "single.bin")
            verify_file(dest, size, self.single_sha, f"bitsd single-stream ({policy})")
        shutil.rmtree(os.path.dirname(b.data_dir))
        return size / MB / t

    def sample_rounds(self, what, measures):
        """Runs each measure once per round (self.repeat rounds), in order. A measure that
        fails once is not run again: its error is reported instead of a figure."""
        samples = {key: [] for key in measures}
        errors = {}
        for i in range(self.repeat):
            log(f"{what}, round {i + 1}/{self.repeat}")
            for key, measure in measures.items():
                if key in errors:
                    continue
                try:
                    samples[key].append(measure())
                except Exception as e:
                    errors[key] = e
        return samples, errors

    def run_single(self):
        p = self.p
        label = (f"single-stream ingest: {human_size(p['single_size'])} in "
                 f"{human_size(p['single_fragment'])} fragments (bits-upload vs curl -T), MB/s")
        samples, errors = self.sample_rounds("single-stream ingest", {
            "dd": self.single_dd,
            "dsync": lambda: self.single_dd("oflag=dsync"),
            "nginx": self.single_nginx,
            "none": lambda: self.single_bitsd("none"),
            "durable": lambda: self.single_bitsd("durable"),
        })
        self.throughput_rows(label, samples, errors, ceiling_label=(
            f"dd of the same {human_size(p['single_size'])}, bs=8M conv=fdatasync, same file system"))

    # ---- concurrent ingest --------------------------------------------------------------
    def conc_nginx(self):
        p = self.p
        names = [f"c{i:03d}.bin" for i in range(p["conc_sessions"])]
        settle_disk()
        argvs = [["curl", "-sS", "-f", "-T", src, "-o", "/dev/null", self.nginx_url(n)]
                 for (src, _), n in zip(self.conc_src, names)]
        t = run_timed(argvs, os.path.join(self.tmp, "curl-conc"), 600)
        for (_, sha), n in zip(self.conc_src, names):
            verify_file(self.nginx_file(n), p["conc_size"], sha, "nginx concurrent PUT")
            os.unlink(self.nginx_file(n))
        return p["conc_sessions"] * p["conc_size"] / MB / t

    def conc_bitsd(self, policy):
        self.require_client()
        p = self.p
        names = [f"c{i:03d}.bin" for i in range(p["conc_sessions"])]
        with self.new_bitsd(f"conc-{policy}", policy).start() as b:
            settle_disk()
            argvs = [[self.client, src, b.url(n), "--fragment-size", str(p["conc_fragment"]),
                      "--quiet", "--state", self.state_file(n)]
                     for (src, _), n in zip(self.conc_src, names)]
            t = run_timed(argvs, os.path.join(self.tmp, f"bits-upload-conc-{policy}"), 1200)
            for (_, sha), n in zip(self.conc_src, names):
                verify_file(os.path.join(b.dest_dir, n), p["conc_size"], sha,
                            f"bitsd concurrent ({policy})")
        shutil.rmtree(os.path.dirname(b.data_dir))
        return p["conc_sessions"] * p["conc_size"] / MB / t

    def run_concurrent(self):
        p = self.p
        label = (f"concurrent ingest: {p['conc_sessions']} sessions at once, "
                 f"{human_size(p['conc_size'])} each in {human_size(p['conc_fragment'])} fragments "
                 f"({p['conc_sessions']} bits-upload vs {p['conc_sessions']} curl -T), MB/s")
        samples, errors = self.sample_rounds("concurrent ingest", {
            "nginx": self.conc_nginx,
            "none": lambda: self.conc_bitsd("none"),
            "durable": lambda: self.conc_bitsd("durable"),
        })
        if not self.dd_samples and self.dd_error is None:
            # The ceiling comes from the single-stream case; measure it here when that did not run.
            try:
                self.dd_samples = [self.single_dd() for _ in range(self.repeat)]
                self.dsync_samples = [self.single_dd("oflag=dsync") for _ in range(self.repeat)]
            except Exception as e:
                self.dd_error = e
        samples["dd"] = self.dd_samples
        samples["dsync"] = self.dsync_samples
        if self.dd_error is not None:
            errors["dd"] = self.dd_error
        self.throughput_rows(label, samples, errors, ceiling_label=None)

    def throughput_rows(self, label, samples, errors, ceiling_label):
        """Rows for one ingest case: [dd ceiling], bitsd none vs nginx, bitsd durable vs dd."""
        def med(key):
            if key in errors:
                return None
            return self.median_of(samples[key]) if samples[key] else None

        def fail(e):
            raise e if isinstance(e, Exception) else CaseError(str(e))

        nginx, dd, dsync = med("nginx"), med("dd"), med("dsync")
        if ceiling_label is not None:
            self.dd_samples = samples["dd"]
            self.dsync_samples = samples["dsync"]
            self.dd_error = errors.get("dd")

            def dd_row(row):
                if dd is None:
                    fail(errors.get("dd", CaseError("no dd figure")))
                row.bitsd = "—"
                row.reference = f"dd: {fmt_rate(dd)} MB/s"
                row.ratio = "—"
                row.target = "ceiling for the durable policy"
                row.verdict = "reference"
                row.data = {"dd_MBps": dd, "samples": samples["dd"]}
            self.case(Row(f"disk ceiling: {ceiling_label}, MB/s", "fdatasync"), dd_row)

            def dsync_row(row):
                if "dsync" in errors or dsync is None:
                    fail(errors.get("dsync", CaseError("no dd oflag=dsync figure")))
                row.bitsd = "—"
                row.reference = f"dd: {fmt_rate(dsync)} MB/s"
                row.ratio = "—"
                row.target = "second reference for the durable policy"
                row.verdict = "reference"
                row.data = {"dd_dsync_MBps": dsync, "samples": samples["dsync"]}
            self.case(Row("disk, flushed per write: " + ceiling_label.replace(
                "conv=fdatasync", "oflag=dsync (a flush after every 8 MiB write, as bitsd "
                "durable per 8 MiB fragment)") + ", MB/s", "dsync"),
                      dsync_row)

        def none_row(row):
            row.target = "≥ 1.0x nginx (aim 1.2x)"
            if nginx is not None:
                row.reference = f"nginx PUT: {fmt_rate(nginx)} MB/s"
            if "none" in errors:
                fail(errors["none"])
            if nginx is None:
                fail(errors.get("nginx", CaseError("no nginx figure")))
            v = med("none")
            r = v / nginx
            row.bitsd = f"{fmt_rate(v)} MB/s"
            row.ratio = f"{r:.2f}x nginx"
            row.verdict = verdict(r >= 1.0) + (" (aim met)" if r >= 1.2 else "")
            row.data = {"bitsd_MBps": v, "nginx_MBps": nginx, "ratio_nginx": r,
                        "bitsd_samples": samples["none"], "nginx_samples": samples["nginx"]}
        self.case(Row(label, "none"), none_row)

        def durable_row(row):
            row.target = "≥ 0.9x dd ceiling"
            refs = []
            if dd is not None:
                refs.append(f"dd fdatasync: {fmt_rate(dd)} MB/s")
            if dsync is not None:
                refs.append(f"dd dsync: {fmt_rate(dsync)} MB/s")
            if nginx is not None:
                refs.append(f"nginx PUT (no fsync): {fmt_rate(nginx)} MB/s")
            row.reference = "; ".join(refs) or None
            if "durable" in errors:
                fail(errors["durable"])
            if dd is None:
                fail(errors.get("dd", CaseError("no dd figure")))
            v = med("durable")
            r = v / dd
            row.bitsd = f"{fmt_rate(v)} MB/s"
            row.ratio = (f"{r:.2f}x dd fdatasync" + (f"; {v / dsync:.2f}x dd dsync" if dsync else "")
                         + (f"; {v / nginx:.2f}x nginx" if nginx else ""))
            row.verdict = verdict(r >= 0.9)
            row.data = {"bitsd_MBps": v, "dd_MBps": dd, "dd_dsync_MBps": dsync,
                        "nginx_MBps": nginx, "ratio_dd": r,
                        "bitsd_samples": samples["durable"]}
        self.case(Row(label, "durable"), durable_row)

    # ---- request rate --------------------------------------------------------------------
    def ab(self, url, tag):
        p = self.p
        argv = ["ab", "-q", "-k", "-c", str(p["ab_connections"]), "-t", str(p["ab_seconds"]),
                "-n", "100000000", "-m", "BITS_POST", "-H", "BITS-Packet-Type: Ping",
                "-H", "Content-Length: 0", url]
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=p["ab_seconds"] + 60)
        with open(os.path.join(self.tmp, f"ab-{tag}.log"), "w") as f:
            f.write(" ".join(argv) + "\n" + out.stdout + out.stderr)
        if out.returncode != 0:
            raise CaseError(f"ab against {tag} exited {out.returncode}: {out.stderr.strip()}")

        def num(name, default=None):
            m = re.search(rf"^{re.escape(name)}:\s+([\d.]+)", out.stdout, re.M)
            if not m:
                if default is not None:
                    return default
                raise CaseError(f"ab against {tag}: no '{name}' in its output")
            return float(m.group(1))

        complete = num("Complete requests")
        failed = num("Failed requests")
        non2xx = num("Non-2xx responses", 0)
        keep_alive = num("Keep-Alive requests", 0)
        rate = num("Requests per second")
        if complete <= 0 or failed or non2xx:
            raise CaseError(f"ab against {tag}: {complete:.0f} complete, {failed:.0f} failed, "
                            f"{non2xx:.0f} non-2xx")
        if keep_alive < complete:
            raise CaseError(f"ab against {tag}: only {keep_alive:.0f} of {complete:.0f} requests "
                            f"were served over kept-alive connections")
        return rate, complete

    def run_ping(self):
        p = self.p
        label = (f"request rate: BITS_POST Ping, ab -k (HTTP/1.0 keep-alive), "
                 f"{p['ab_connections']} connections, {p['ab_seconds']} s, requests/s")

        def fn(row):
            rates = {"nginx": [], "bitsd": []}
            with self.new_bitsd("ping", "none").start() as b:
                for i in range(self.repeat):
                    rates["nginx"].append(self.ab(f"http://127.0.0.1:{self.nginx_port}/ping",
                                                  "nginx")[0])
                    rates["bitsd"].append(self.ab(f"http://127.0.0.1:{b.port}/uploads/ping",
                                                  "bitsd")[0])
            v, n = self.median_of(rates["bitsd"]), self.median_of(rates["nginx"])
            r = v / n
            row.bitsd = f"{v:,.0f} req/s"
            row.reference = f"nginx `return 200`: {n:,.0f} req/s"
            row.ratio = f"{r:.2f}x nginx"
            row.target = "≥ 0.8x nginx"
            row.verdict = verdict(r >= 0.8)
            row.data = {"bitsd_rps": v, "nginx_rps": n, "ratio_nginx": r, "samples": rates}
        self.case(Row(label, "n/a: Ping touches no disk (bitsd ran with none)"), fn)

    # ---- memory ------------------------------------------------------------------------
    def run_memory_sessions(self):
        k = self.p["mem_sessions"]
        warm = max(1, k // 100)
        label = f"memory: bitsd RSS with {k:,} open sessions (1 KiB of 2 KiB received each)"

        def fn(row):
            with self.new_bitsd("mem-sessions", "none").start() as b:
                with httpclient.HttpConnection(b.port) as c:
                    r = c.request("BITS_POST", "/uploads/warm-up", [("BITS-Packet-Type", "Ping")])
                    if r.status != 200:
                        raise CaseError(f"Ping answered {r.status}")
                    time.sleep(0.2)
                    start = b.rss_kib()
                    data = random.Random(7).randbytes(KIB)
                    for i in range(k):
                        if i == warm:
                            # The first sessions pay one-off costs (buffers, allocator arenas):
                            # the per-session figure is the slope after them.
                            time.sleep(0.2)
                            before = b.rss_kib()
                        path = f"/uploads/mem/s{i:05d}.bin"
                        sid = httpclient.create_session(c, path)
                        r = httpclient.fragment(c, path, sid, 0, data, 2 * KIB)
                        if r.status != 200 or r.header("BITS-Received-Content-Range") != str(KIB):
                            raise CaseError(f"Fragment answered {r.status} {r.headers}")
                    time.sleep(0.5)
                    after = b.rss_kib()
                sessions = count_sessions(b.data_dir)
                if sessions != k:
                    raise CaseError(f"{sessions} sessions on disk, expected {k}")
            per = (after - before) / (k - warm)
            row.bitsd = (f"{per:.2f} KiB per session (RSS {start:,} KiB idle, {before:,} after "
                         f"the first {warm}, {after:,} with all {k:,})")
            row.reference = "—"
            row.ratio = "—"
            row.target = "none set"
            row.verdict = "—"
            row.data = {"rss_idle_kib": start, "rss_after_first_kib": before,
                        "first_sessions": warm, "rss_after_kib": after, "sessions": k,
                        "kib_per_session": per}
        self.case(Row(label, "n/a: RSS does not depend on it (bitsd ran with none)"), fn)

    def run_memory_idle(self):
        n = self.p["idle_connections"]
        label = f"memory: RSS with {n:,} idle keep-alive connections (one Ping answered on each)"

        def measure(port, path, rss):
            before = rss()
            socks = httpclient.open_idle_connections(port, n, path)
            try:
                time.sleep(1.0)
                after = rss()
                closed = httpclient.count_closed(socks)
                if closed:
                    raise CaseError(f"{closed} of {n} idle connections were closed by the server")
            finally:
                httpclient.close_all(socks)
            return before, after

        def fn(row):
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft != resource.RLIM_INFINITY and soft < n + 256:
                raise CaseError(f"the open-files limit is {soft}: {n:,} connections need more "
                                f"(raise the hard limit, ulimit -Hn, as root)")
            with self.new_bitsd("mem-idle", "none").start() as b:
                with httpclient.HttpConnection(b.port) as c:
                    c.request("BITS_POST", "/uploads/warm-up", [("BITS-Packet-Type", "Ping")])
                time.sleep(0.2)
                b_before, b_after = measure(b.port, "/uploads/idle", b.rss_kib)
            time.sleep(0.2)
            n_before, n_after = measure(self.nginx_port, "/ping", self.nginx_rss_kib)
            per_b = (b_after - b_before) / n
            per_n = (n_after - n_before) / n
            row.bitsd = f"{per_b:.2f} KiB per connection (RSS {b_before:,} → {b_after:,} KiB)"
            row.reference = (f"nginx (master + workers): {per_n:.2f} KiB per connection "
                             f"(RSS {n_before:,} → {n_after:,} KiB)")
            row.ratio = f"{per_b / per_n:.2f}x nginx" if per_n > 0 else "—"
            row.target = "< 32 KiB per connection"
            row.verdict = verdict(per_b < 32)
            row.data = {"bitsd_rss_before_kib": b_before, "bitsd_rss_after_kib": b_after,
                        "nginx_rss_before_kib": n_before, "nginx_rss_after_kib": n_after,
                        "connections": n, "bitsd_kib_per_conn": per_b,
                        "nginx_kib_per_conn": per_n}
        self.case(Row(label, "n/a: idle connections touch no disk (bitsd ran with none)"), fn)

    def run_memory_hold(self):
        """RSS per connection in every state a client can hold a connection in."""
        n = self.p["hold_connections"]
        label = (f"memory: RSS per connection held by a client, {n:,} connections per state "
                 f"(worst state)")

        def head(port, packet, path, extra=(), length=0):
            lines = [f"BITS_POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
                     f"BITS-Packet-Type: {packet}"] + [f"{k}: {v}" for k, v in extra]
            lines.append(f"Content-Length: {length}")
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

        def hold(b, payloads):
            before = b.rss_kib()
            socks = []
            try:
                for data in payloads:
                    s = httpclient.socket.create_connection(("127.0.0.1", b.port), timeout=30)
                    if data:
                        s.sendall(data)
                    socks.append(s)
                time.sleep(1.0)
                after = b.rss_kib()
            finally:
                for s in socks:
                    s.close()
            return (after - before) / len(payloads), before, after

        def fn(row):
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft != resource.RLIM_INFINITY and soft < n + 256:
                raise CaseError(f"the open-files limit is {soft}: {n:,} connections need more")
            results = {}
            filler = "a" * (8 * KIB - 200)
            rng = f"bytes 0-{MIB - 1}/{MIB}"
            # name -> payloads(port, sids): what each of the n connections sends; sessions are
            # made first when the state needs them (one per connection, or one shared).
            states = [
                ("idle keep-alive", 0, None),
                ("half-sent header", 0,
                 lambda port, sids, i: head(port, "Ping", "/uploads/p")[:40]),
                # The largest header bitsd accepts (8 KiB), without its final CRLF.
                ("8 KiB header without its final CRLF", 0,
                 lambda port, sids, i: head(port, "Ping", "/uploads/p",
                                            [("X-Filler", filler)])[:-2]),
                ("fragment body trickling", n + 1,
                 lambda port, sids, i: head(port, "Fragment", f"/uploads/hold-{i}.bin",
                                            [("BITS-Session-Id", sids[i]),
                                             ("Content-Range", rng)], MIB) + b"x"),
                ("rejected body being drained", 0,
                 lambda port, sids, i: head(port, "Ping", "/uploads/p", length=65536) + b"x"),
                # The last session is held by one connection; the others queue for it.
                ("waiting for a session lock", 1,
                 lambda port, sids, i: head(port, "Fragment", "/uploads/hold-0.bin",
                                            [("BITS-Session-Id", sids[0]),
                                             ("Expect", "100-continue"),
                                             ("Content-Range", rng)], MIB)),
            ]
            for name, sessions, payload in states:
                # A fresh bitsd per state: memory freed by one state is not reused by the next.
                with self.new_bitsd("mem-hold", "none",
                                    extra={"min_body_rate_bytes_per_s": 0}).start() as b:
                    port = b.port
                    with httpclient.HttpConnection(port) as c:
                        c.request("BITS_POST", "/uploads/warm-up", [("BITS-Packet-Type", "Ping")])
                        sids = [httpclient.create_session(c, f"/uploads/hold-{i}.bin")
                                for i in range(sessions)]
                    holder = None
                    if name == "waiting for a session lock":
                        holder = httpclient.socket.create_connection(("127.0.0.1", port), 30)
                        holder.sendall(head(port, "Fragment", "/uploads/hold-0.bin",
                                            [("BITS-Session-Id", sids[0]),
                                             ("Content-Range", rng)], MIB) + b"x")
                    time.sleep(0.2)
                    if payload is None:
                        before = b.rss_kib()
                        socks = httpclient.open_idle_connections(port, n, "/uploads/idle")
                        time.sleep(1.0)
                        after = b.rss_kib()
                        httpclient.close_all(socks)
                        results[name] = ((after - before) / n, before, after)
                    else:
                        # One connection in the state first, so one-off costs (the thread's
                        # body buffer, allocator arenas) are not billed to the n measured.
                        warm = httpclient.socket.create_connection(("127.0.0.1", port), 30)
                        warm.sendall(payload(port, sids, n))
                        time.sleep(0.2)
                        results[name] = hold(b, [payload(port, sids, i) for i in range(n)])
                        warm.close()
                    if holder is not None:
                        holder.close()
            worst = max(v[0] for v in results.values())
            states_row(row, results, n, "connection", "≤ 16 KiB per connection in every state", worst <= 16)
        self.case(Row(label, "n/a (bitsd ran with none)"), fn)

    def run_memory_tls_hold(self):
        """RSS per connection on a TLS listener, in the states a client can hold one in."""
        n = self.p["hold_connections"] // 2
        label = f"memory: RSS per TLS connection, {n:,} connections per state (idle keep-alive)"

        def request(port, packet, path, extra=(), body=b""):
            lines = [f"BITS_POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
                     f"BITS-Packet-Type: {packet}"] + [f"{k}: {v}" for k, v in extra]
            lines.append(f"Content-Length: {len(body)}")
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

        def answered(s):
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    raise CaseError("a TLS connection was closed before its answer")
                got += chunk
            if not got.startswith(b"HTTP/1.1 200"):
                raise CaseError(f"unexpected answer: {got[:200]!r}")

        def fn(row):
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft != resource.RLIM_INFINITY and soft < n + 256:
                raise CaseError(f"the open-files limit is {soft}: {n:,} connections need more")
            certs = self.fresh_dir("tls-certs")
            cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(cert)
            body = os.urandom(256 * KIB)
            results = {}
            # name -> what each connection does before it is held: nothing or the start of a
            # ClientHello (the handshake stalls), one Ping, or one 256 KiB fragment (the body
            # path's buffers).
            states = [("handshake stalled", None), ("half a ClientHello", "half"),
                      ("idle after a Ping (TLS 1.3)", "ping"),
                      ("idle after a Ping (TLS 1.2)", "ping12"), ("idle after a 256 KiB fragment", "fragment")]
            for name, what in states:
                extra = {"listen": [{"address": "127.0.0.1:0", "tls": {"cert": cert, "key": key}}],
                         "min_body_rate_bytes_per_s": 0}
                with self.new_bitsd("mem-tls", "none", extra=extra).start() as b:
                    port = b.port
                    sids = []
                    if what == "fragment":
                        with socket_tls(ctx, port) as c:
                            for i in range(n + 1):
                                c.sendall(request(port, "Create-Session", f"/uploads/t-{i}.bin",
                                                  [("BITS-Supported-Protocols", httpclient.BITS_PROTOCOL_GUID)]))
                                got = c.recv(4096).decode("latin-1")
                                m = re.search(r"BITS-Session-Id: (\S+)", got, re.I)
                                if not m:
                                    raise CaseError(f"Create-Session: {got[:200]!r}")
                                sids.append(m.group(1))

                    def open_one(i):
                        raw = httpclient.socket.create_connection(("127.0.0.1", port), timeout=30)
                        if what is None:
                            return raw
                        if what == "half":
                            raw.sendall(bytes.fromhex("160301020001"))  # a record header, a byte of the hello
                            return raw
                        c = ctx
                        if what == "ping12":
                            c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                            c.load_verify_locations(cert)
                            c.maximum_version = ssl.TLSVersion.TLSv1_2
                        t = c.wrap_socket(raw, server_hostname="127.0.0.1")
                        if what == "fragment":
                            t.sendall(request(port, "Fragment", f"/uploads/t-{i}.bin",
                                              [("BITS-Session-Id", sids[i]),
                                               ("Content-Range", f"bytes 0-{len(body) - 1}/{len(body) * 2}")], body))
                        else:
                            t.sendall(request(port, "Ping", "/uploads/p"))
                        answered(t)
                        return t

                    warm = open_one(n)  # one-off costs (thread buffers, arenas) not billed to the n
                    time.sleep(0.3)
                    before = b.rss_kib()
                    socks = []
                    try:
                        for i in range(n):
                            socks.append(open_one(i))
                        time.sleep(1.0)
                        after = b.rss_kib()
                    finally:
                        for s_ in socks:
                            s_.close()
                        warm.close()
                    results[name] = ((after - before) / n, before, after)
            idle = max(v[0] for k, v in results.items() if k.startswith("idle"))
            states_row(row, results, n, "TLS connection", "≤ 40 KiB per idle TLS connection", idle <= 40)
        self.case(Row(label, "n/a (bitsd ran with none)"), fn)

    def run_stall(self):
        """Ping latency while disk work runs: 8 durable uploads and one cross-fs commit."""
        p = self.p
        label = (f"latency: Ping p99 while {p['stall_uploads']} durable uploads and one "
                 f"{human_size(p['stall_commit_size'])} cross-filesystem commit run, against idle")

        def pings(conn, count, stop=None):
            lat = []
            for _ in range(count):
                if stop is not None and stop.is_set():
                    break
                t0 = time.perf_counter()
                r = conn.request("BITS_POST", "/uploads/ping", [("BITS-Packet-Type", "Ping")])
                lat.append(time.perf_counter() - t0)
                if r.status != 200:
                    raise CaseError(f"Ping answered {r.status}")
            return lat

        def p99(lat):
            return sorted(lat)[max(0, int(len(lat) * 0.99) - 1)] * 1000

        def fn(row):
            self.require_client()
            shm = "/dev/shm"
            if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(self.work).st_dev:
                raise CaseError("needs /dev/shm on a file system of its own")
            dest_shm = tempfile.mkdtemp(prefix="bitsd-bench-", dir=shm)
            size, commit_size = p["stall_upload_size"], p["stall_commit_size"]
            src = os.path.join(self.work, "stall-src.bin")
            src_sha = make_source(src, size, 77)
            try:
                with self.new_bitsd("stall", "durable", extra_uploads=[{
                        "url_prefix": "/shm/", "destination_dir": dest_shm,
                        "allow_overwrites": True, "max_upload_size": 0,
                        "session_timeout_s": 1209600}]).start() as b:
                    with httpclient.HttpConnection(b.port) as c:
                        idle = pings(c, p["stall_pings"])
                        # The commit's bytes first (disk), then its Close runs during the load.
                        sid = httpclient.create_session(c, "/shm/commit.bin")
                        block = os.urandom(MIB)
                        step = 8 * MIB
                        for first in range(0, commit_size, step):
                            r = httpclient.fragment(c, "/shm/commit.bin", sid, first,
                                                    block * (step // MIB), commit_size)
                            if r.status != 200:
                                raise CaseError(f"commit upload: {r.status}")
                    settle_disk()
                    procs = [subprocess.Popen(
                        [self.client, src, b.url(f"stall-{i}.bin"), "--fragment-size",
                         str(MIB), "--quiet", "--state", self.state_file(f"stall-{i}")],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL) for i in range(p["stall_uploads"])]
                    commit = {}

                    def close_it():
                        with httpclient.HttpConnection(b.port, timeout=600) as cc:
                            t0 = time.monotonic()
                            for _ in range(100):
                                r = cc.request("BITS_POST", "/shm/commit.bin",
                                               [("BITS-Packet-Type", "Close-Session"),
                                                ("BITS-Session-Id", sid)])
                                if r.status != 503:
                                    break
                                time.sleep(1)
                            commit["status"] = r.status
                            commit["s"] = time.monotonic() - t0

                    stop = threading.Event()
                    closer = threading.Thread(target=close_it)
                    closer.start()
                    with httpclient.HttpConnection(b.port) as c:
                        loaded = pings(c, p["stall_pings"] * 10, stop)
                        while closer.is_alive() or any(x.poll() is None for x in procs):
                            loaded += pings(c, 50)
                            if len(loaded) > 200000:
                                break
                    closer.join(timeout=600)
                    for x in procs:
                        if x.wait(timeout=600) != 0:
                            raise CaseError(f"bits-upload exited {x.returncode}")
                    if commit.get("status") != 200:
                        raise CaseError(f"Close-Session answered {commit.get('status')}")
                    for i in range(p["stall_uploads"]):
                        verify_file(os.path.join(b.dest_dir, f"stall-{i}.bin"), size,
                                    src_sha, "stall upload")
                    if os.path.getsize(os.path.join(dest_shm, "commit.bin")) != commit_size:
                        raise CaseError("the cross-filesystem commit has the wrong size")
            finally:
                shutil.rmtree(dest_shm, ignore_errors=True)
            i99, l99 = p99(idle), p99(loaded)
            row.bitsd = (f"Ping p99 {l99:.2f} ms under load ({len(loaded):,} Pings; commit "
                         f"{commit['s']:.2f} s)")
            row.reference = f"idle Ping p99 {i99:.2f} ms ({len(idle):,} Pings)"
            row.ratio = f"{l99 / i99:.1f}x idle" if i99 > 0 else "—"
            row.target = "Ping never waits for the disk"
            row.verdict = "reported"
            row.data = {"idle_p99_ms": i99, "loaded_p99_ms": l99, "loaded_max_ms":
                        max(loaded) * 1000, "commit_s": commit["s"], "pings": len(loaded)}
        self.case(Row(label, "durable"), fn)

    # ---- recovery ------------------------------------------------------------------------
    def run_recovery(self):
        k = self.p["recovery_sessions"]
        starts = self.p["recovery_starts"]
        label = (f"recovery: exec to `listening on` with {k:,} sessions on disk, s "
                 f"(median of {starts} start{'s' if starts > 1 else ''}, page cache warm)")
        base = self.fresh_dir("recovery")
        data_dir = os.path.join(base, "data")
        dest_dir = os.path.join(base, "files")
        sessions = []
        populate_error = None
        try:
            log(f"recovery: creating {k:,} sessions over keep-alive")
            b = Bitsd(self, "bitsd-recovery-populate", "none", data_dir, dest_dir)
            with b.start():
                data = random.Random(11).randbytes(KIB)
                with httpclient.HttpConnection(b.port) as c:
                    for i in range(k):
                        path = f"/uploads/rec/s{i:05d}.bin"
                        sid = httpclient.create_session(c, path)
                        r = httpclient.fragment(c, path, sid, 0, data, 2 * KIB)
                        if r.status != 200:
                            raise CaseError(f"Fragment answered {r.status} {r.headers}")
                        sessions.append((path, sid))
            on_disk = count_sessions(data_dir)
            if on_disk != k:
                raise CaseError(f"{on_disk} sessions on disk after creating {k}")
        except Exception as e:
            populate_error = e

        sample = random.Random(5).sample(sessions, min(20, len(sessions))) if sessions else []
        data = random.Random(11).randbytes(KIB)

        for policy in ("none", "durable"):
            def fn(row, policy=policy):
                if populate_error is not None:
                    raise populate_error
                times, first_acks, cpu = [], [], []
                for i in range(starts):
                    settle_disk()
                    b = Bitsd(self, f"bitsd-recovery-{policy}-{i}", policy, data_dir, dest_dir)
                    with b.start():
                        t_ready = b.ready_s
                        # The first Ack on a recovered session (a duplicate fragment: nothing
                        # written, the answer must carry the recovered offset).
                        with httpclient.HttpConnection(b.port) as c:
                            path, sid = sample[0]
                            r = httpclient.fragment(c, path, sid, 0, data, 2 * KIB)
                            first_acks.append(time.monotonic() - b.t_exec)
                            for path, sid in sample:
                                r = httpclient.fragment(c, path, sid, 0, data, 2 * KIB)
                                if (r.status != 200 or
                                        r.header("BITS-Received-Content-Range") != str(KIB)):
                                    raise CaseError(f"recovered session {sid} answered "
                                                    f"{r.status} {r.headers}")
                        # The start-up sweep reads every session after the listener is up:
                        # its cost is not in the ready time. Wait until bitsd's CPU time stops
                        # growing and report it.
                        cpu.append(settled_cpu_s(b.proc.pid))
                    times.append(t_ready)
                    if count_sessions(data_dir) != k:
                        raise CaseError("sessions lost across a restart")
                v = self.median_of(times)
                row.bitsd = f"{v:.3f} s"
                row.reference = (f"first Ack on a recovered session at "
                                 f"{self.median_of(first_acks):.3f} s; bitsd CPU time until idle "
                                 f"(start-up sweep included): {self.median_of(cpu):.2f} s")
                row.ratio = "—"
                row.target = "< 1 s"
                row.verdict = verdict(v < 1.0)
                row.data = {"ready_s": v, "samples": times, "first_ack_s": first_acks,
                            "cpu_until_idle_s": cpu, "sessions": k}
            self.case(Row(label, policy), fn)
        shutil.rmtree(base, ignore_errors=True)

    # ---- output ------------------------------------------------------------------------
    def meta(self):
        def cmd(argv):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                return (r.stdout + r.stderr).strip().splitlines()[0]
            except Exception:
                return "?"
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = "?"
        try:
            with open("/proc/meminfo") as f:
                mem = f"{int(f.readline().split()[1]) / (1024 * 1024):.0f} GiB"
        except (OSError, ValueError, IndexError):
            pass
        fs = cmd(["sh", "-c", f"df -T {self.tmp} | tail -1 | awk '{{print $2\" on \"$1}}'"])
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": "quick" if self.quick else "full",
            "host": f"{os.cpu_count()} cores ({cpu}), {mem} RAM, Linux {platform.release()}",
            "filesystem": fs,
            "bitsd": f"{cmd([self.bitsd, '--version'])} ({self.bitsd})",
            "client": self.client,
            "nginx": cmd(["nginx", "-v"]),
            "ab": cmd(["ab", "-V"]),
            "repeat": self.repeat,
            "loadavg_at_start": self.loadavg_at_start,
        }

    def markdown(self, meta):
        out = [f"bitsd benchmark ({meta['mode']}), {meta['date']}",
               "",
               f"- host: {meta['host']}; temp dir on {meta['filesystem']}; "
               f"load average at start {meta['loadavg_at_start']}",
               f"- {meta['bitsd']}; {meta['nginx']}; ab {meta['ab'].split(',')[1].strip() if ',' in meta['ab'] else meta['ab']}",
               "- 1 MB = 10^6 bytes; RSS from /proc/PID/status VmRSS; every upload verified "
               "(size and SHA-256 against its source)",
               "- bitsd: `threads` 0 (one per core), log level info; nginx: `worker_processes auto`, "
               "access_log off; both on 127.0.0.1, data on the same file system",
               "- bits-upload keeps its resume state on tmpfs (its per-fragment state fsync would "
               "be the client machine's cost, not the server's); curl -T sends `Expect: 100-continue` "
               "as it does by default",
               f"- nginx never fsyncs; bitsd `durable` fdatasyncs every fragment before its Ack"
               + (f"; median of {self.repeat} rounds" if self.repeat > 1 else ""),
               ]
        if self.quick:
            out.append("- --quick: small sizes, to keep the benchmark from rotting; "
                       "its figures are not the benchmark's")
        out += ["",
                "| case | fsync | bitsd | reference (same run) | ratio | target | verdict |",
                "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [r.case, r.policy, r.bitsd or "—", r.reference or "—", r.ratio or "—",
                     r.target or "—", r.verdict]
            if r.error:
                cells[2] = "FAILED: " + r.error.splitlines()[0]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(out) + "\n"

    def run(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
        t0 = time.monotonic()
        self.loadavg_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
        self.dd_samples, self.dsync_samples, self.dd_error = [], [], None
        cases = self.args.cases.split(",") if self.args.cases else list(CASES)
        unknown = [c for c in cases if c not in CASES]
        if unknown:
            raise SystemExit(f"bench.py: unknown case(s) {unknown}; known: {','.join(CASES)}")
        if "single" in cases or "concurrent" in cases:
            self.prepare_sources()
        if "single" in cases:
            self.run_single()
        if "concurrent" in cases:
            self.run_concurrent()
        if "ping" in cases:
            self.run_ping()
        if "sessions" in cases:
            self.run_memory_sessions()
        if "idle" in cases:
            self.run_memory_idle()
        if "hold" in cases:
            self.run_memory_hold()
        if "tls_hold" in cases:
            self.run_memory_tls_hold()
        if "stall" in cases:
            self.run_stall()
        if "recovery" in cases:
            self.run_recovery()
        if "delivery" in cases:
            delivery_cases.run_delivery(self, Row, fmt_rate)
        if "delivery_stall" in cases:
            delivery_cases.run_delivery_stall(self, Row, fmt_rate)
        if "auth_bruteforce" in cases:
            auth_cases.run_auth_bruteforce(self, Row)
        if "scrape" in cases:
            admin_cases.run_scrape(self, Row, Bitsd)
        meta = self.meta()
        meta["elapsed_s"] = round(time.monotonic() - t0, 1)
        md = self.markdown(meta)
        print(md, end="")
        print(f"\n{len(self.rows) - self.failures} of {len(self.rows)} rows measured and verified; "
              f"{self.failures} failed; {meta['elapsed_s']} s")
        for r in self.rows:
            if r.error:
                print(f"\nFAILED: {r.case} [{r.policy}]:\n{r.error}")
        if self.args.out:
            out = self.args.out
            if out.endswith(".json"):
                json_path, md_path = out, out[:-5] + ".md"
            else:
                json_path, md_path = out + ".json", out
            with open(md_path, "w") as f:
                f.write(md)
            with open(json_path, "w") as f:
                json.dump({"meta": meta, "rows": [r.as_dict() for r in self.rows],
                           "params": self.p}, f, indent=2)
        return 1 if self.failures else 0


def count_sessions(data_dir):
    root = os.path.join(data_dir, "sessions")
    n = 0
    if not os.path.isdir(root):
        return 0
    for shard in os.listdir(root):
        p = os.path.join(root, shard)
        if os.path.isdir(p):
            n += sum(1 for e in os.listdir(p) if e.startswith("{"))
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--bitsd", required=True)
    ap.add_argument("--client", default="")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--cases", help="comma-separated subset of: " + ",".join(CASES))
    ap.add_argument("--nginx-port", type=int, required=True)
    ap.add_argument("--nginx-pid", type=int, required=True)
    ap.add_argument("--nginx-root", required=True)
    args = ap.parse_args()
    # bench/run stops us with SIGTERM: unwind, so every process we started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
