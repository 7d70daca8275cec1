"""End-to-end test harness for bitsd (Python standard library only).

What lives here:

* ``Server``: writes a JSON config into a fresh temp dir, starts the real bitsd binary
  (``BITSD_BINARY``), waits for its ``listening on 127.0.0.1:PORT`` log line, and stops
  (SIGTERM), kills (SIGKILL) and restarts it with the same config and data dir. A restart gets a
  new port; ``Server.port`` always holds the current one, and clients follow it.
* ``HttpConnection`` / ``Response``: a small HTTP/1.1 client over a raw socket, able to send
  byte-exact requests, stream bodies, send half a body and drop the connection, and read interim
  ``100 Continue`` responses.
* ``BitsClient``: BITS packets (ping, create_session, fragment, close, cancel, a generic
  ``request``) over one keep-alive connection, and ``upload_file`` implementing the client rules
  of bits-protocol.md section 3.1 (follow BITS-Received-Content-Range on 200 and 416, start over
  on 500 + 0x8020001F, shrink on 413, reconnect on connection errors and follow a restarted
  server's new port).
* Data sources: ``PatternSource`` (deterministic pseudo-random bytes with random access, generated
  block by block so 1 GiB never sits in memory), ``BytesSource``, ``FileSource``; ``sha256_file``.
* ``BitsAssertions``: a unittest mixin with Ack / error assertions following the "Decisions for
  bitsd" table of bits-protocol.md.
"""

import atexit
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB

BITS_PROTOCOL_GUID = "{7df0354d-249b-430f-820d-3d2a9bef4931}"

# HRESULTs used by bitsd (bits-protocol.md section 4).
E_INVALIDARG = "0x80070057"
E_ACCESSDENIED = "0x80070005"
BG_E_SESSION_NOT_FOUND = "0x8020001F"
BG_E_TOO_LARGE = "0x80200020"
CONTEXT_SERVER = "0x5"

SESSION_ID_RE = re.compile(
    r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$")
LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
ADMIN_RE = re.compile(r"admin interface on http://127\.0\.0\.1:(\d+)/")

# The config's "limits" with every cap off (max_connections cannot be 0: as high as it goes).
NO_LIMITS = {"max_connections": 1000000, "max_connections_per_client": 0,
             "max_open_sessions_per_client": 0, "create_sessions_per_minute_per_client": 0,
             "min_free_disk_bytes": 0, "min_free_inodes": 0, "auth_failures_per_minute_per_client": 0}

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------

class HarnessError(AssertionError):
    """A failure of the environment or of the server under test (never skipped)."""


def bitsd_binary():
    path = os.environ.get("BITSD_BINARY")
    if not path:
        raise HarnessError("BITSD_BINARY is not set: point it at the built bitsd executable")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise HarnessError(f"BITSD_BINARY={path!r} is not an executable file")
    return path


def wire_dir():
    """The Windows-client test vectors kept in the repository (tests/data/wire)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "data", "wire"))


def under_asan(pid):
    """True when the process runs with AddressSanitizer, whose shadow memory and quarantine
    make RSS meaningless: tests that measure RSS skip themselves then, saying so."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def sha256_file(path, chunk=4 * MIB):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()



def mount_tmpfs(testcase, options):
    """A fresh tmpfs mounted with `options` ("size=8m", "size=1m,nr_inodes=200"), unmounted
    (and its mount point removed) at cleanup. Skips the test where mount(8) is not allowed."""
    point = tempfile.mkdtemp(prefix="bitsd-e2e-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", point],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(point)
        testcase.skipTest(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); "
                          f"this case needs root and mount(8)")

    def unmount():
        for args in (["umount", point], ["umount", "-l", point]):
            if subprocess.run(args, capture_output=True).returncode == 0:
                break
        try:
            os.rmdir(point)
        except OSError:
            pass
    testcase.addCleanup(unmount)
    return point

def vm_hwm_kib(pid):
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise HarnessError(f"no VmHWM in /proc/{pid}/status")


# --------------------------------------------------------------------------------------------
# Data sources: size + read(offset, n); random access, deterministic
# --------------------------------------------------------------------------------------------

class PatternSource:
    """Deterministic pseudo-random bytes of a given size, generated in 1 MiB blocks.

    Block i is random.Random(f(seed, i)).randbytes(BLOCK), so any range can be produced without
    holding the whole content; the two most recently used blocks are cached.
    """

    BLOCK = MIB

    def __init__(self, size, seed):
        self.size = size
        self.seed = seed
        self._cache = {}

    def _block(self, i):
        b = self._cache.get(i)
        if b is None:
            b = random.Random(self.seed * 1_000_003 + i * 7919 + 17).randbytes(self.BLOCK)
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[i] = b
        return b

    def read(self, offset, n):
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"read({offset}, {n}) outside [0, {self.size})")
        out = []
        while n > 0:
            i, o = divmod(offset, self.BLOCK)
            take = min(n, self.BLOCK - o)
            block = self._block(i)
            out.append(block if take == self.BLOCK else block[o:o + take])
            offset += take
            n -= take
        return out[0] if len(out) == 1 else b"".join(out)

    def chunks(self, offset, n, chunk=MIB):
        while n > 0:
            take = min(chunk, n)
            yield self.read(offset, take)
            offset += take
            n -= take

    def sha256(self):
        h = hashlib.sha256()
        for b in self.chunks(0, self.size):
            h.update(b)
        return h.hexdigest()


class BytesSource:
    def __init__(self, data):
        self.data = bytes(data)
        self.size = len(self.data)

    def read(self, offset, n):
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"read({offset}, {n}) outside [0, {self.size})")
        return self.data[offset:offset + n]

    def chunks(self, offset, n, chunk=MIB):
        while n > 0:
            take = min(chunk, n)
            yield self.read(offset, take)
            offset += take
            n -= take

    def sha256(self):
        return hashlib.sha256(self.data).hexdigest()


class FileSource:
    def __init__(self, path):
        self.path = os.fspath(path)
        self.size = os.path.getsize(self.path)

    def read(self, offset, n):
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"read({offset}, {n}) outside [0, {self.size})")
        with open(self.path, "rb") as f:
            f.seek(offset)
            b = f.read(n)
        if len(b) != n:
            raise HarnessError(f"{self.path} changed while uploading")
        return b

    def chunks(self, offset, n, chunk=MIB):
        with open(self.path, "rb") as f:
            f.seek(offset)
            while n > 0:
                b = f.read(min(chunk, n))
                if not b:
                    raise HarnessError(f"{self.path} changed while uploading")
                yield b
                n -= len(b)

    def sha256(self):
        return sha256_file(self.path)


def as_source(x):
    if isinstance(x, (bytes, bytearray, memoryview)):
        return BytesSource(x)
    if isinstance(x, (str, os.PathLike)):
        return FileSource(x)
    if hasattr(x, "size") and hasattr(x, "read"):
        return x
    raise TypeError(f"not a data source: {type(x)!r}")


# --------------------------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------------------------

_live_servers = set()


@atexit.register
def _kill_leftovers():
    for s in list(_live_servers):
        try:
            s.kill()
        except Exception:
            pass


class Server:
    """One bitsd process (and its restarts) with its own temp dir, config, data and files.

    Layout of the temp dir: config.json, data/ (data_dir), files/ (destination_dir of
    /uploads/). ``upload`` is merged into uploads[0], ``extra`` into the top level of the config.
    Passing a TestCase registers cleanup (kill + remove the temp dir) with addCleanup.
    """

    def __init__(self, testcase=None, *, fsync="none", max_fragment_size=32 * MIB,
                 upload=None, extra=None, host_id=None, host_id_fallback_timeout_s=None,
                 preexec_fn=None):
        # Runs in the child before bitsd starts (e.g. resource.setrlimit for a lower file limit).
        self.preexec_fn = preexec_fn
        self.root = tempfile.mkdtemp(prefix="bitsd-e2e-")
        self.data_dir = os.path.join(self.root, "data")
        self.files_dir = os.path.join(self.root, "files")
        self.config_path = os.path.join(self.root, "config.json")
        up = {
            "url_prefix": "/uploads/",
            "destination_dir": self.files_dir,
            "allow_overwrites": False,
            "max_upload_size": 0,
            "session_timeout_s": 1209600,
        }
        up.update(upload or {})
        self.config = {
            "listen": ["127.0.0.1:0"],
            "data_dir": self.data_dir,
            "fsync": fsync,
            "max_fragment_size": max_fragment_size,
            "uploads": [up],
            # A stop (SIGTERM) with a request still in flight waits this long before cutting
            # it: short, so such a stop stays well inside STOP_TIMEOUT_S on a loaded machine.
            "shutdown_timeout_s": 2,
            # Any free port: a fixed one (the default 9090) would collide between tests.
            "admin_listen": "127.0.0.1:0",
            # Every test client comes from 127.0.0.1 and the disk-full tests fill small file
            # systems on purpose: the abuse limits are off unless a test sets "limits" itself
            # (test_limits_e2e.py does).
            "limits": dict(NO_LIMITS),
        }
        if host_id is not None:
            self.config["host_id"] = host_id
            if host_id_fallback_timeout_s is not None:
                self.config["host_id_fallback_timeout_s"] = host_id_fallback_timeout_s
        self.config.update(extra or {})
        self.write_config()

        self.proc = None
        self.port = None
        self.starts = 0
        self._lines = []          # every output line of every run, in order
        self._lines_lock = threading.Lock()
        self._reader = None
        self._cleaned = False
        self._expect_running = False  # started and not deliberately stopped or killed
        if testcase is not None:
            testcase.addCleanup(self.cleanup)

    # -- config / paths ------------------------------------------------------------------

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def file_path(self, name):
        """Where /uploads/<name> is committed."""
        return os.path.join(self.files_dir, *name.split("/"))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def admin_port(self, timeout=READY_TIMEOUT_S):
        """The admin listener's port in the current run (it is logged after the upload ports)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log_lines()
            starts = [i for i, line in enumerate(lines) if line.startswith("=== harness: start #")]
            for line in lines[starts[-1] if starts else 0:]:
                m = ADMIN_RE.search(line)
                if m:
                    return int(m.group(1))
            self.check_not_crashed()
            time.sleep(0.01)
        raise HarnessError(f"no 'admin interface on' line in the log:\n{self.log_text()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- output ----------------------------------------------------------------------------

    def log_lines(self):
        with self._lines_lock:
            return list(self._lines)

    def log_text(self, last=200):
        lines = self.log_lines()
        return "\n".join(lines[-last:])

    def wait_output_closed(self, timeout=5):
        """After the process exited: waits until every line it wrote has been read (the reader
        thread sees the end of the pipe), so log checks right after an exit see the last lines."""
        if self._reader is not None:
            self._reader.join(timeout)

    def _read_output(self, proc):
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lines_lock:
                self._lines.append(line)
        proc.stdout.close()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=READY_TIMEOUT_S):
        self.check_not_crashed()
        if self.running():
            raise HarnessError("bitsd is already running")
        binary = bitsd_binary()
        with self._lines_lock:
            first_line = len(self._lines)
            self._lines.append(f"=== harness: start #{self.starts + 1}: {binary} --config "
                               f"{self.config_path}")
            first_line += 1
        self.port = None
        self.proc = subprocess.Popen(
            [binary, "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=self.root, start_new_session=True, preexec_fn=self.preexec_fn)
        _live_servers.add(self)
        self.starts += 1
        self._reader = threading.Thread(target=self._read_output, args=(self.proc,),
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while True:
            with self._lines_lock:
                new = self._lines[first_line:]
            for line in new:
                m = LISTENING_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    self._expect_running = True
                    return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise HarnessError(
                    f"bitsd exited with status {self.proc.returncode} before it was ready; "
                    f"output:\n{self.log_text()}")
            if time.monotonic() > deadline:
                out = self.log_text()
                self.kill()
                raise HarnessError(
                    f"bitsd did not log 'listening on 127.0.0.1:PORT' within {timeout} s; "
                    f"output:\n{out}")
            time.sleep(0.01)

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM and wait; returns the exit status. Kills (and fails) if it does not exit."""
        if self.proc is None:
            return None
        self.check_not_crashed()
        self._expect_running = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise HarnessError(f"bitsd did not exit within {timeout} s of SIGTERM; "
                                   f"output:\n{self.log_text()}")
        return self._reap()

    def kill(self):
        """SIGKILL (a crash) and reap."""
        if self.proc is None:
            return None
        self._expect_running = False
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        return self._reap()

    def _reap(self):
        rc = self.proc.returncode
        if self._reader is not None:
            self._reader.join(5)
        with self._lines_lock:
            self._lines.append(f"=== harness: bitsd pid {self.proc.pid} exited with {rc}")
        _live_servers.discard(self)
        self.port = None
        return rc

    def restart(self, crash=False):
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()

    def check_not_crashed(self):
        """Raises if the daemon died although nobody stopped or killed it."""
        if self._expect_running and self.proc is not None and self.proc.poll() is not None:
            self._expect_running = False
            rc = self.proc.returncode
            if self._reader is not None:
                self._reader.join(5)
            raise HarnessError(f"bitsd died unexpectedly (exit status {rc}); output:\n"
                               f"{self.log_text()}")

    def cleanup(self):
        """Kills the daemon, removes the temp dir; raises if the daemon had crashed."""
        if self._cleaned:
            return
        self._cleaned = True
        try:
            self.check_not_crashed()
        finally:
            self._cleanup_files()

    def _cleanup_files(self):
        try:
            self.kill()
        finally:
            if os.environ.get("BITSD_E2E_KEEP_TMP"):
                print(f"bitsd e2e: kept {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def assert_alive(self):
        if not self.running():
            raise HarnessError(f"bitsd is not running (exit status "
                               f"{self.proc.returncode if self.proc else None}); output:\n"
                               f"{self.log_text()}")


# --------------------------------------------------------------------------------------------
# HTTP over a raw socket
# --------------------------------------------------------------------------------------------

class ProtocolError(ConnectionError):
    """The server's bytes are not a complete HTTP response (or the connection ended early)."""


class CIDict:
    """Case-insensitive header mapping; repeated headers are joined with ', '."""

    def __init__(self, pairs=()):
        self._d = {}
        for k, v in pairs:
            lk = k.lower()
            if lk in self._d:
                self._d[lk] = (self._d[lk][0], self._d[lk][1] + ", " + v)
            else:
                self._d[lk] = (k, v)

    def get(self, key, default=None):
        e = self._d.get(key.lower())
        return e[1] if e else default

    def __getitem__(self, key):
        return self._d[key.lower()][1]

    def __contains__(self, key):
        return key.lower() in self._d

    def items(self):
        return [(k, v) for k, v in self._d.values()]

    def __repr__(self):
        return repr(dict(self.items()))


class Response:
    def __init__(self, version, status, reason, header_list, body, head_raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = CIDict(header_list)
        self.body = body
        self.head_raw = head_raw

    def error_code(self):
        return self.headers.get("BITS-Error-Code")

    def received(self):
        """BITS-Received-Content-Range as an int (raises if missing or malformed)."""
        v = self.headers.get("BITS-Received-Content-Range")
        if v is None or not v.strip().isdigit():
            raise AssertionError(f"no numeric BITS-Received-Content-Range in:\n{self}")
        return int(v.strip())

    def is_session_not_found(self):
        code = (self.headers.get("BITS-Error-Code") or self.headers.get("BITS-Error") or "")
        return self.status == 500 and code.lower().replace("0x", "") == "8020001f"

    def keep_alive(self):
        conn = (self.headers.get("Connection") or "").lower()
        if "close" in conn:
            return False
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return True

    def __str__(self):
        head = self.head_raw.decode("latin-1", "replace")
        body = self.body[:200]
        return f"{head.rstrip()}\n[body {len(self.body)} bytes: {body!r}]"


def build_head(method, target, headers, version="HTTP/1.1"):
    lines = [f"{method} {target} {version}"]
    for k, v in headers:
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpConnection:
    """One TCP connection; requests and responses as bytes, nothing hidden."""

    def __init__(self, host, port, timeout=60.0):
        self.host = host
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.closed = False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def reset(self):
        """Close with an RST (SO_LINGER 0) instead of a FIN."""
        if not self.closed:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            self.close()

    def is_stale(self):
        """True when the peer already closed (EOF/RST pending) an idle connection."""
        if self.closed:
            return True
        if self._buf:
            return False
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r:
            return False
        saved = self.sock.gettimeout()
        try:
            self.sock.setblocking(False)
            data = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            try:
                self.sock.settimeout(saved)
            except OSError:
                pass
        if not data:
            return True
        self._buf += data  # unsolicited bytes: keep them, the next read will show them
        return False

    def send(self, data):
        self.sock.sendall(data)

    def send_body(self, body, pace=None):
        """body: bytes or an iterable of bytes; pace: seconds to sleep between chunks."""
        if isinstance(body, (bytes, bytearray, memoryview)):
            if body:
                self.sock.sendall(body)
            return
        for chunk in body:
            self.sock.sendall(chunk)
            if pace:
                time.sleep(pace)

    def _fill(self):
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise
        if not data:
            raise ProtocolError("connection closed by the server")
        self._buf += data

    def read_head(self, max_size=256 * KIB):
        while b"\r\n\r\n" not in self._buf:
            if len(self._buf) > max_size:
                raise ProtocolError(f"response head larger than {max_size} bytes")
            try:
                self._fill()
            except ProtocolError:
                if self._buf:
                    raise ProtocolError(f"connection closed inside a response head: "
                                        f"{self._buf[:500]!r}")
                raise
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        return head + b"\r\n\r\n"

    def read_response(self, allow_interim=False, method=None):
        """Reads one response. 1xx interim responses are skipped unless allow_interim."""
        while True:
            head = self.read_head()
            text = head.decode("latin-1")
            lines = text.split("\r\n")
            m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
            if not m:
                raise ProtocolError(f"bad status line {lines[0]!r}")
            version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
            hl = []
            for line in lines[1:]:
                if not line:
                    continue
                if ":" not in line:
                    raise ProtocolError(f"bad header line {line!r}")
                k, v = line.split(":", 1)
                hl.append((k.strip(), v.strip()))
            if 100 <= status < 200:
                if allow_interim:
                    return Response(version, status, reason, hl, b"", head)
                continue
            headers = CIDict(hl)
            if method == "HEAD" or status in (204, 304):
                body = b""
            elif "content-length" in headers:
                n = int(headers["content-length"].split(",")[0])
                while len(self._buf) < n:
                    self._fill()
                body, self._buf = self._buf[:n], self._buf[n:]
            elif "chunked" in (headers.get("transfer-encoding") or "").lower():
                body = self._read_chunked()
            else:
                # Body delimited by connection close.
                chunks = [self._buf]
                self._buf = b""
                while True:
                    try:
                        d = self.sock.recv(1 << 20)
                    except OSError:
                        break
                    if not d:
                        break
                    chunks.append(d)
                body = b"".join(chunks)
                self.close()
            return Response(version, status, reason, hl, body, head)

    def _read_chunked(self):
        out = []
        while True:
            while b"\r\n" not in self._buf:
                self._fill()
            line, self._buf = self._buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while b"\r\n\r\n" not in b"\r\n" + self._buf:
                    self._fill()
                if self._buf.startswith(b"\r\n"):
                    self._buf = self._buf[2:]
                else:
                    _, self._buf = self._buf.split(b"\r\n\r\n", 1)
                return b"".join(out)
            while len(self._buf) < size + 2:
                self._fill()
            out.append(self._buf[:size])
            self._buf = self._buf[size + 2:]

    def exchange(self, head, body=b"", pace=None, method=None):
        """Sends a request (head bytes + body) and reads the final response.

        If the server answers early and closes while the body is still being sent (e.g. 413,
        416, 400), the response already sent is read and returned instead of the send error.
        """
        try:
            self.send(head)
            self.send_body(body, pace)
        except OSError as send_error:
            try:
                self.settimeout(5)
                resp = self.read_response(method=method)
            except (OSError, ProtocolError):
                self.close()
                raise send_error
            self.close()
            return resp
        return self.read_response(method=method)


# --------------------------------------------------------------------------------------------
# BITS client
# --------------------------------------------------------------------------------------------

class UploadError(AssertionError):
    pass


class UploadResult:
    def __init__(self, session_id, size, restarts, reconnects, fragments, responses):
        self.session_id = session_id
        self.size = size
        self.restarts = restarts          # Create-Sessions after SESSION_NOT_FOUND
        self.reconnects = reconnects      # connection errors survived
        self.fragments = fragments        # Fragment requests answered
        self.responses = responses        # (packet, first, n, status, received) log


class BitsClient:
    """BITS packets over one keep-alive connection to ``server`` (a Server, or (host, port)).

    With a Server, every (re)connection reads the server's current port, so the client follows
    restarts.
    """

    def __init__(self, server, prefix="/uploads/", timeout=60.0, host_header=None):
        self.server = server
        self.prefix = prefix
        self.timeout = timeout
        self.host_header = host_header
        self.conn = None

    # -- connections -----------------------------------------------------------------------

    def address(self):
        if isinstance(self.server, Server):
            if self.server.port is None:
                raise ConnectionRefusedError("bitsd is not running (no port)")
            return ("127.0.0.1", self.server.port)
        return self.server

    def connect(self):
        host, port = self.address()
        return HttpConnection(host, port, self.timeout)

    def reset(self):
        """Drops the current connection (the next request opens a new one)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connection(self):
        if self.conn is not None and (self.conn.closed or self.conn.is_stale()):
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = self.connect()
        return self.conn

    def target(self, name):
        return name if name.startswith("/") else self.prefix + name

    def _host(self):
        if self.host_header:
            return self.host_header
        host, port = self.address()
        return f"{host}:{port}"

    # -- generic request -------------------------------------------------------------------

    def request(self, method, target, headers=None, body=b"", *, content_length="auto",
                host=True, version="HTTP/1.1", pace=None):
        """Sends one request on the keep-alive connection; returns a Response.

        headers: list of (name, value) (or a dict), sent in order. host=True adds a Host header
        unless one is given; content_length="auto" adds Content-Length: len(body) unless one is
        given (pass None to send none, or an int to send that value). body: bytes or an iterable
        of bytes (then pass content_length explicitly).
        """
        hl = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in hl}
        if host and "host" not in names:
            hl.insert(0, ("Host", self._host()))
        if "content-length" not in names:
            if content_length == "auto":
                if not isinstance(body, (bytes, bytearray, memoryview)):
                    raise ValueError("streamed body needs an explicit content_length")
                hl.append(("Content-Length", str(len(body))))
            elif content_length is not None:
                hl.append(("Content-Length", str(content_length)))
        head = build_head(method, target, hl, version)
        conn = self._connection()
        try:
            resp = conn.exchange(head, body, pace=pace, method=method)
        except BaseException:
            conn.close()
            self.conn = None
            raise
        if conn.closed or not resp.keep_alive():
            conn.close()
            self.conn = None
        return resp

    def bits(self, packet_type, name, session=None, headers=None, body=b"", **kw):
        hl = [("BITS-Packet-Type", packet_type)]
        if session is not None:
            hl.append(("BITS-Session-Id", session))
        hl += list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        return self.request("BITS_POST", self.target(name), hl, body, **kw)

    # -- packets ---------------------------------------------------------------------------

    def ping(self, name="ping", headers=None, **kw):
        return self.bits("Ping", name, headers=headers, **kw)

    def create_session(self, name, protocols=BITS_PROTOCOL_GUID, headers=None, **kw):
        hl = []
        if protocols is not None:
            hl.append(("BITS-Supported-Protocols", protocols))
        hl += list(headers or [])
        return self.bits("Create-Session", name, headers=hl, **kw)

    def new_session(self, name):
        """Create-Session that must succeed; returns the session id."""
        r = self.create_session(name)
        if r.status != 200 or "BITS-Session-Id" not in r.headers:
            raise UploadError(f"Create-Session for {name!r} failed:\n{r}")
        return r.headers["BITS-Session-Id"]

    def fragment(self, session, data, first, total, name="file.bin", n=None, headers=None,
                 content_range=None, stream=False, pace=None, **kw):
        """A Fragment carrying bytes [first, first+len-1] of a file of ``total`` bytes.

        data: the fragment's bytes, or a data source (then ``n`` bytes are read at ``first``;
        with stream=True they are sent in 64 KiB..1 MiB chunks, never held whole).
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
            n = len(body)
            length = n
        else:
            if n is None:
                raise ValueError("n is required with a data source")
            length = n
            if stream:
                body = data.chunks(first, n, chunk=64 * KIB if pace else MIB)
            else:
                body = data.read(first, n)
        if content_range is None:
            content_range = f"bytes {first}-{first + n - 1}/{total}"
        hl = [("Content-Name", os.path.basename(name) or "file"),
              ("Content-Range", content_range)]
        hl += list(headers or [])
        kw.setdefault("content_length", length)
        return self.bits("Fragment", name, session, headers=hl, body=body, pace=pace, **kw)

    def close(self, session, name="file.bin", **kw):
        return self.bits("Close-Session", name, session, **kw)

    def cancel(self, session, name="file.bin", **kw):
        return self.bits("Cancel-Session", name, session, **kw)

    # -- the client rules ------------------------------------------------------------------

    def upload_file(self, source, name, fragment_size, *, session=None, offset=0,
                    max_restarts=3, reconnect_timeout=30.0, max_requests=None, stream=True,
                    on_response=None):
        """Uploads ``source`` to /uploads/<name> following bits-protocol.md section 3.1.

        fragment_size: an int, or a sequence of ints used in turn (cycled).
        session/offset: continue an existing session from ``offset``.
        On 200/416 the next offset is BITS-Received-Content-Range; on 500 + 0x8020001F the upload
        starts over with a new session (at most max_restarts times); on 413 the fragment size
        is halved (not below 5 KiB); on connection errors the client reconnects (re-reading the
        server's port) for up to reconnect_timeout seconds and resends the same packet. Any other
        answer raises UploadError.
        """
        data = as_source(source)
        total = data.size
        sizes = list(fragment_size) if isinstance(fragment_size, (list, tuple)) \
            else [fragment_size]
        size_index = 0
        shrink = None
        restarts = reconnects = fragments = requests = 0
        log = []
        error_since = None

        def note(*entry):
            log.append(entry)
            if on_response is not None:
                on_response(*entry)

        while True:
            requests += 1
            if max_requests is not None and requests > max_requests:
                raise UploadError(f"upload of {name!r} did not finish in {max_requests} "
                                  f"requests; last: {log[-5:]}")
            try:
                if session is None:
                    r = self.create_session(name)
                    note("Create-Session", 0, 0, r.status, r.headers.get("BITS-Session-Id"))
                    if r.status != 200:
                        raise UploadError(f"Create-Session for {name!r}:\n{r}")
                    session = r.headers.get("BITS-Session-Id")
                    if not session:
                        raise UploadError(f"Create-Session Ack without a session id:\n{r}")
                    offset = 0
                elif offset >= total:
                    r = self.close(session, name)
                    note("Close-Session", offset, 0, r.status, None)
                    if r.status == 200:
                        return UploadResult(session, total, restarts, reconnects, fragments,
                                            log)
                    if r.is_session_not_found():
                        restarts += 1
                        if restarts > max_restarts:
                            raise UploadError(f"too many SESSION_NOT_FOUND restarts:\n{r}")
                        session = None
                        continue
                    raise UploadError(f"Close-Session for {name!r} at {offset}/{total}:\n{r}")
                else:
                    want = shrink or sizes[size_index % len(sizes)]
                    n = min(want, total - offset)
                    r = self.fragment(session, data, offset, total, name=name, n=n,
                                      stream=stream)
                    fragments += 1
                    if r.status in (200, 416):
                        got = r.received()
                        note("Fragment", offset, n, r.status, got)
                        if got > total:
                            raise UploadError(f"server wants offset {got} > total {total}:\n{r}")
                        if r.status == 200 and got < offset + n:
                            raise UploadError(f"200 for [{offset}, {offset + n}) acknowledges "
                                              f"only {got}:\n{r}")
                        offset = got
                        size_index += 1
                    elif r.status == 413:
                        note("Fragment", offset, n, r.status, None)
                        if n <= 5 * KIB:
                            raise UploadError(f"413 for a {n}-byte fragment:\n{r}")
                        shrink = max(5 * KIB, n // 2)
                    elif r.is_session_not_found():
                        note("Fragment", offset, n, r.status, None)
                        restarts += 1
                        if restarts > max_restarts:
                            raise UploadError(f"too many SESSION_NOT_FOUND restarts:\n{r}")
                        session = None
                    else:
                        raise UploadError(f"Fragment [{offset}, {offset + n}) of {total} "
                                          f"for {name!r}:\n{r}")
                error_since = None
            except (OSError, ProtocolError) as e:
                self.reset()
                reconnects += 1
                note("connection-error", offset, 0, None, repr(e))
                now = time.monotonic()
                if error_since is None:
                    error_since = now
                if now - error_since > reconnect_timeout:
                    raise UploadError(f"no connection to bitsd for {reconnect_timeout} s: "
                                      f"{e!r}") from e
                time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------------

class BitsAssertions:
    """Mixin for unittest.TestCase: Ack and error checks per bits-protocol.md + Decisions."""

    def assert_ack(self, r, status, session=None, msg=""):
        """Status, BITS-Packet-Type: Ack, Content-Length: 0, empty body, session echo."""
        where = f"{msg}\nresponse:\n{r}"
        self.assertEqual(r.status, status, f"HTTP status{where}")
        self.assertEqual(r.headers.get("BITS-Packet-Type"), "Ack",
                         f"BITS-Packet-Type must be Ack{where}")
        self.assertEqual(r.headers.get("Content-Length"), "0",
                         f"Content-Length must be 0{where}")
        self.assertEqual(r.body, b"", f"body must be empty{where}")
        if session is not None:
            # Decisions: BITS-Session-Id echoed on every Ack to a request that carried one.
            # (Ids are case-insensitive, so an echo in the server's canonical case is accepted.)
            self.assertEqual((r.headers.get("BITS-Session-Id") or "").upper(), session.upper(),
                             f"BITS-Session-Id must echo the request's{where}")

    def assert_plain_http(self, r, status, msg=""):
        """For answers to requests that are not BITS packets: status, Content-Length: 0, no
        body."""
        where = f"{msg}\nresponse:\n{r}"
        self.assertEqual(r.status, status, f"HTTP status{where}")
        self.assertEqual(r.headers.get("Content-Length"), "0", f"Content-Length{where}")
        self.assertEqual(r.body, b"", f"body must be empty{where}")

    def assert_ok(self, r, session=None, msg=""):
        self.assert_ack(r, 200, session, msg)
        self.assert_no_error(r, msg)

    def assert_no_error(self, r, msg=""):
        for h in ("BITS-Error", "BITS-Error-Code", "BITS-Error-Context"):
            self.assertNotIn(h, r.headers, f"{h} must be absent{msg}\nresponse:\n{r}")

    def assert_bits_error(self, r, status, code, session=None, msg=""):
        """Status + BITS-Error-Code and BITS-Error (same value, 0x + 8 upper-case hex) +
        BITS-Error-Context: 0x5."""
        self.assert_ack(r, status, session, msg)
        where = f"{msg}\nresponse:\n{r}"
        self.assertEqual(r.headers.get("BITS-Error-Code"), code, f"BITS-Error-Code{where}")
        self.assertEqual(r.headers.get("BITS-Error"), code, f"BITS-Error{where}")
        self.assertEqual(r.headers.get("BITS-Error-Context"), CONTEXT_SERVER,
                         f"BITS-Error-Context{where}")

    def assert_received(self, r, offset, msg=""):
        self.assertEqual(r.headers.get("BITS-Received-Content-Range"), str(offset),
                         f"BITS-Received-Content-Range{msg}\nresponse:\n{r}")

    def assert_file(self, path, expected_sha256, size=None, msg=""):
        self.assertTrue(os.path.isfile(path), f"{path} was not committed{msg}")
        if size is not None:
            self.assertEqual(os.path.getsize(path), size, f"size of {path}{msg}")
        self.assertEqual(sha256_file(path), expected_sha256, f"SHA-256 of {path}{msg}")


class ServerTestCase(BitsAssertions, unittest.TestCase):
    """A test case that starts its own bitsd per test: `start()` gives the server and a client,
    `raw()` a connection for requests written byte by byte."""

    def start(self, **kw):
        srv = Server(self, **kw).start()
        client = BitsClient(srv)
        self.addCleanup(client.reset)
        return srv, client

    def raw(self, srv, timeout=10.0):
        conn = HttpConnection("127.0.0.1", srv.port, timeout)
        self.addCleanup(conn.close)
        return conn
