"""bitsd under systemd, without systemd as PID 1 (issue 8, item 1).

* The unit file dist/systemd/bitsd.service passes ``systemd-analyze verify`` (a temp copy whose
  ExecStart names the built binary, since verify checks that the binary exists).
* The notify protocol: a Python AF_UNIX datagram socket plays systemd's NOTIFY_SOCKET (by path
  and as an abstract ``@`` name). READY=1 arrives with a STATUS naming the port, and the port
  accepts a connection right after it; WATCHDOG=1 arrives every WATCHDOG_USEC/2; SIGTERM sends
  STOPPING=1 and bitsd exits 0. A WATCHDOG_PID naming another process turns the pings off.
* journald priorities: with JOURNAL_STREAM naming stderr's real device:inode, every log line
  starts with ``<N>`` and carries no timestamp; with a JOURNAL_STREAM that names another file
  the log looks as before.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import bitsd_binary

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.normpath(os.path.join(HERE, "..", "..", "dist", "systemd", "bitsd.service"))
START_TIMEOUT_S = 10.0


class BitsdProcess:
    """One bitsd with its own temp dir and config; stderr goes to a file (a real inode, so
    JOURNAL_STREAM can name it)."""

    def __init__(self, testcase, listen="127.0.0.1:0"):
        self.root = tempfile.mkdtemp(prefix="bitsd-systemd-")
        testcase.addCleanup(shutil.rmtree, self.root, True)
        self.config_path = os.path.join(self.root, "bitsd.json")
        with open(self.config_path, "w") as f:
            json.dump({
                "listen": [listen],
                "data_dir": os.path.join(self.root, "data"),
                "fsync": "none",
                "admin_listen": "off",  # 9090 may be taken by another test
                "uploads": [{"url_prefix": "/uploads/",
                             "destination_dir": os.path.join(self.root, "files")}],
            }, f)
        self.log_path = os.path.join(self.root, "stderr.log")
        self.log = open(self.log_path, "wb")
        testcase.addCleanup(self.log.close)
        self.proc = None
        testcase.addCleanup(self.kill)

    def stderr_id(self):
        st = os.fstat(self.log.fileno())
        return f"{st.st_dev}:{st.st_ino}"

    def start(self, env):
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
        full_env.update(env)
        self.proc = subprocess.Popen([bitsd_binary(), "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=full_env)
        return self

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=START_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log_text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the log:\n{self.log_text()}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=START_TIMEOUT_S)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class FakeNotifySocket:
    """systemd's side of the notify protocol: a bound AF_UNIX datagram socket."""

    def __init__(self, testcase, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        testcase.addCleanup(self.sock.close)
        if abstract:
            name = f"bitsd-e2e-notify-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            root = tempfile.mkdtemp(prefix="bitsd-notify-")
            testcase.addCleanup(shutil.rmtree, root, True)
            self.env = os.path.join(root, "notify.sock")
            self.sock.bind(self.env)

    def receive(self, timeout):
        """One datagram as {key: value} (with "_raw"), or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        text = data.decode("utf-8")
        fields = {"_raw": text}
        for line in text.split("\n"):
            if line:
                key, _, value = line.partition("=")
                fields[key] = value
        return fields


class NotifyTest(unittest.TestCase):

    def run_lifecycle(self, abstract):
        manager = FakeNotifySocket(self, abstract=abstract)
        bitsd = BitsdProcess(self).start({"NOTIFY_SOCKET": manager.env, "WATCHDOG_USEC": "500000"})

        ready = manager.receive(START_TIMEOUT_S)
        self.assertIsNotNone(ready, f"no datagram from bitsd:\n{bitsd.log_text()}")
        self.assertEqual(ready.get("READY"), "1", ready)
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", ready.get("STATUS", ""))
        self.assertIsNotNone(m, f"STATUS should name the bound port: {ready}")
        # Ready means accepting: a connection right after READY=1 succeeds.
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            conn.settimeout(5)
            self.assertTrue(conn.recv(64).startswith(b"HTTP/1.1 "))

        # WATCHDOG_USEC=500000: a ping every 250 ms. Over 1.5 s at least 4, none late.
        pings = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            msg = manager.receive(max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            self.assertEqual(msg["_raw"], "WATCHDOG=1\n")
            pings.append(time.monotonic())
        self.assertGreaterEqual(len(pings), 4, f"{len(pings)} pings in 1.5 s")
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), 0.5, f"ping gaps {gaps}: the watchdog (0.5 s) would fire")

        bitsd.proc.send_signal(signal.SIGTERM)
        stopping = None
        for _ in range(10):  # a ping may still be queued before STOPPING=1
            msg = manager.receive(START_TIMEOUT_S)
            self.assertIsNotNone(msg, "no STOPPING=1 after SIGTERM")
            if "STOPPING" in msg:
                stopping = msg
                break
        self.assertEqual(stopping["STOPPING"], "1")
        self.assertEqual(stopping.get("STATUS"), "stopping (signal 15)")
        self.assertEqual(bitsd.proc.wait(timeout=START_TIMEOUT_S), 0, bitsd.log_text())
        self.assertIsNone(manager.receive(0.2), "nothing after STOPPING=1 (no pings while stopping)")

    def test_ready_watchdog_stopping_on_a_path_socket(self):
        self.run_lifecycle(abstract=False)

    def test_ready_watchdog_stopping_on_an_abstract_socket(self):
        self.run_lifecycle(abstract=True)

    def test_a_watchdog_meant_for_another_process_sends_no_pings(self):
        manager = FakeNotifySocket(self)
        bitsd = BitsdProcess(self).start({"NOTIFY_SOCKET": manager.env, "WATCHDOG_USEC": "200000",
                                          "WATCHDOG_PID": "1"})
        ready = manager.receive(START_TIMEOUT_S)
        self.assertIsNotNone(ready)
        self.assertEqual(ready.get("READY"), "1")
        self.assertIsNone(manager.receive(0.6), "WATCHDOG_PID names another process: no pings")
        self.assertEqual(bitsd.stop(), 0)

    def test_a_failed_start_sends_no_ready(self):
        # The port is taken: bitsd exits non-zero and never claims to be ready.
        manager = FakeNotifySocket(self)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            bitsd = BitsdProcess(self, listen=f"127.0.0.1:{port}").start({"NOTIFY_SOCKET": manager.env})
            self.assertNotEqual(bitsd.proc.wait(timeout=START_TIMEOUT_S), 0)
        self.assertIsNone(manager.receive(0.2))


class JournalStreamTest(unittest.TestCase):

    def test_journal_lines_carry_syslog_priorities_and_no_timestamp(self):
        bitsd = BitsdProcess(self)
        # A NOTIFY_SOCKET nobody listens on gives a warning line to look for.
        bitsd.start({"JOURNAL_STREAM": bitsd.stderr_id(),
                     "NOTIFY_SOCKET": "/nonexistent-bitsd-e2e/notify.sock"})
        bitsd.wait_for_log(r"listening on 127\.0\.0\.1:\d+")
        self.assertEqual(bitsd.stop(), 0)
        lines = bitsd.log_text().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[0-7]>\[[a-z]+\] ", "every line starts with <N>[level]")
            self.assertNotRegex(line, r"\d{4}-\d\d-\d\d", "journald stamps lines itself")
        self.assertIn("<6>[info] listening on 127.0.0.1:", bitsd.log_text())
        self.assertRegex(bitsd.log_text(), r"(?m)^<4>\[warning\] NOTIFY_SOCKET: cannot notify")
        self.assertIn("<6>[info] stopped", lines)

    def test_a_failed_start_is_logged_as_critical(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            bitsd = BitsdProcess(self, listen=f"127.0.0.1:{taken.getsockname()[1]}")
            bitsd.start({"JOURNAL_STREAM": bitsd.stderr_id()})
            self.assertNotEqual(bitsd.proc.wait(timeout=START_TIMEOUT_S), 0)
        self.assertRegex(bitsd.log_text(), r"(?m)^<2>\[critical\] listen: cannot listen on 127\.0\.0\.1:")

    def test_a_journal_stream_naming_another_file_changes_nothing(self):
        bitsd = BitsdProcess(self)
        st = os.stat(bitsd.config_path)  # a real file, but not stderr
        bitsd.start({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        bitsd.wait_for_log(r"listening on 127\.0\.0\.1:\d+")
        self.assertEqual(bitsd.stop(), 0)
        first = bitsd.log_text().splitlines()[0]
        self.assertRegex(first, r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] ", "the usual timestamped line")
        self.assertNotIn("<6>", bitsd.log_text())


class UnitFileTest(unittest.TestCase):

    def test_systemd_analyze_verify_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd): the unit is not verified")
        with open(UNIT) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/bitsd --config /etc/bitsd/bitsd.json\n", unit)
        self.assertIn("Type=notify\n", unit)
        # SIGHUP reloads the configuration (README "Stopping and reloading").
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID\n", unit)
        root = tempfile.mkdtemp(prefix="bitsd-unit-")
        self.addCleanup(shutil.rmtree, root, True)
        # verify checks that ExecStart's binary exists: point it at the build.
        copy = os.path.join(root, "bitsd.service")
        with open(copy, "w") as f:
            f.write(unit.replace("ExecStart=/usr/bin/bitsd ", f"ExecStart={bitsd_binary()} "))
        result = subprocess.run([analyze, "verify", copy], capture_output=True, text=True, timeout=120)
        output = (result.stdout + result.stderr).strip()
        self.assertEqual(result.returncode, 0, output)
        # Warnings about the unit itself fail the test; verify's notes on other units do not.
        unit_lines = [line for line in output.splitlines() if "bitsd.service" in line]
        self.assertEqual(unit_lines, [], output)

    def test_verify_rejects_a_broken_unit(self):
        # The check above can fail: a missing ExecStart binary makes verify complain.
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        root = tempfile.mkdtemp(prefix="bitsd-unit-")
        self.addCleanup(shutil.rmtree, root, True)
        copy = os.path.join(root, "bitsd.service")
        shutil.copy(UNIT, copy)  # /usr/bin/bitsd is not installed here
        if os.path.exists("/usr/bin/bitsd"):
            self.skipTest("/usr/bin/bitsd exists on this machine")
        result = subprocess.run([analyze, "verify", copy], capture_output=True, text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("bitsd.service", result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
