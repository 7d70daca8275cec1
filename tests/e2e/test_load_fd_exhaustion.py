"""Running out of file descriptors (load test: many connections at once).

bitsd must survive a process that has no descriptor left: the acceptors pause instead of
retrying at full speed, no I/O context builds its reactor late (an eventfd it cannot open would
end the process), the admin listener keeps at most limits.max_admin_connections, and at
start-up bitsd raises its soft file limit to the hard one and lowers limits.max_connections to
what the limit can hold, with a warning naming the key.

Every wait is bounded; the bounds are generous because the machine is shared.
"""

import os
import re
import resource
import socket
import time
import unittest

from bitsd_harness import MIB, BitsAssertions, BitsClient, PatternSource, Server


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """User + system CPU time of every thread of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soft_file_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def closed_by_server(sock, within=3.0):
    """True when the server closes `sock` (end of stream or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionError:
        return True


def connect_all(port, n):
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    return socks


def close_all(socks):
    for s in socks:
        s.close()
    socks.clear()


class FdExhaustionTest(BitsAssertions, unittest.TestCase):

    def start(self, **kw):
        srv = Server(self, **kw).start()
        client = BitsClient(srv, timeout=10)
        self.addCleanup(client.reset)
        return srv, client

    def test_out_of_descriptors_bitsd_pauses_stays_alive_and_serves_once_they_free_up(self):
        # Four I/O threads: the upload listener hands connections to other contexts, whose
        # reactors must exist before the descriptors run out.
        srv, client = self.start(extra={"threads": 4})
        admin_port = srv.admin_port()
        # Leave bitsd a few descriptors only (an operator's limit, or every other one in use).
        limit = open_descriptors(srv.pid) + 16
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (limit, limit))
        admin = connect_all(admin_port, 40)  # more than the limit lets bitsd accept
        self.addCleanup(close_all, admin)
        uploads = connect_all(srv.port, 4)
        self.addCleanup(close_all, uploads)
        time.sleep(0.5)
        self.assertIsNone(srv.proc.poll(), f"bitsd ended when its descriptors ran out:\n{srv.log_text()}")
        # Pausing, not spinning: the acceptors retry a few times a second.
        before = cpu_seconds(srv.pid)
        time.sleep(1.0)
        used = cpu_seconds(srv.pid) - before
        self.assertIsNone(srv.proc.poll(), f"bitsd ended when its descriptors ran out:\n{srv.log_text()}")
        self.assertLess(used, 0.5, f"bitsd used {used:.2f} s of CPU in 1 s with no descriptor left")
        pauses = [line for line in srv.log_lines() if "pausing accepts" in line]
        self.assertTrue(pauses, f"no warning about the paused accepts:\n{srv.log_text()}")
        self.assertLessEqual(len(pauses), 10, "the pause is logged once per burst, not per retry:\n" +
                             "\n".join(pauses[:20]))
        # The descriptors come back: the connections that waited in the backlog are served,
        # and a whole upload works.
        close_all(admin)
        for s in uploads:
            s.settimeout(10)
            s.sendall(f"BITS_POST /uploads/ping HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                      f"BITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n".encode())
            self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 200"), srv.log_text())
        source = PatternSource(MIB, seed=1601)
        client.upload_file(source, "after-exhaustion.bin", 256 * 1024)
        self.assert_file(srv.file_path("after-exhaustion.bin"), source.sha256(), MIB)
        self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_admin_connections_beyond_the_cap_are_closed_at_once(self):
        srv, _ = self.start(extra={"limits": {"max_connections": 1000, "max_admin_connections": 8}})
        admin_port = srv.admin_port()
        held = connect_all(admin_port, 8)
        self.addCleanup(close_all, held)
        time.sleep(0.3)
        over = connect_all(admin_port, 4)
        self.addCleanup(close_all, over)
        for s in over:
            self.assertTrue(closed_by_server(s), "an admin connection beyond the cap was kept")
        self.assertFalse(closed_by_server(held[0], within=0.2), "an admin connection under the cap was closed")
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        held[0].settimeout(10)
        self.assertTrue(held[0].recv(64).startswith(b"HTTP/1.1 200"))
        # A freed place is given out again.
        held.pop().close()
        deadline = time.monotonic() + 10
        while True:
            s = socket.create_connection(("127.0.0.1", admin_port), timeout=10)
            held.append(s)
            if not closed_by_server(s, within=0.3):
                break
            held.pop().close()
            self.assertLess(time.monotonic(), deadline, "a freed admin place was never given out again")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(10)
        self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 200"))
        self.assertIn("limits.max_admin_connections", srv.log_text())

    def test_the_soft_limit_is_raised_and_max_connections_clamped_with_a_warning(self):
        def low_soft_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))

        srv, client = self.start(preexec_fn=low_soft_limit,
                                 extra={"threads": 2, "blocking_threads": 2,
                                        "limits": {"max_connections": 10000, "max_connections_per_client": 0}})
        self.assertEqual(soft_file_limit(srv.pid), 1024, "the soft file limit was not raised to the hard one")
        log = srv.log_text()
        m = re.search(r"limits\.max_connections: 10000 .* using (\d+)", log)
        self.assertTrue(m, f"no warning naming limits.max_connections:\n{log}")
        clamped = int(m.group(1))
        self.assertLess(clamped, 1024)
        self.assertGreater(clamped, 100)
        # The clamped value is in force: the connection after it is closed at once.
        held = connect_all(srv.port, clamped)
        self.addCleanup(close_all, held)
        time.sleep(0.5)
        over = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.addCleanup(over.close)
        self.assertTrue(closed_by_server(over), f"connection {clamped + 1} was kept")
        close_all(held)
        self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    unittest.main()
