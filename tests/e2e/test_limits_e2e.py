"""Abuse limits (issue 9, item 4): what one client, or all of them, may cost bitsd.

* Connections are capped overall (limits.max_connections) and per client address
  (limits.max_connections_per_client): a connection over a cap is closed before a byte is read,
  and a place that frees up is usable again.
* A client holds at most limits.max_open_sessions_per_client sessions it has not closed or
  cancelled, and creates at most limits.create_sessions_per_minute_per_client a minute; beyond
  either it gets 503 + 0x801901F7 + Retry-After (transient for Windows), other clients do not.
* 1,000 idle or slow (header trickling) connections from 20 addresses plus a Create-Session
  flood do not stop a normal upload from another address.
* Below limits.min_free_disk_bytes or limits.min_free_inodes on data_dir's file system, new
  sessions and fragments get 503 + Retry-After and everything acknowledged is kept: the upload
  completes once there is room again. (A tmpfs mounted by the test: root and mount(8) needed,
  else skipped with the reason.)

Clients use several loopback addresses (127.0.0.0/8 all reach the server on Linux): the real
upload comes from 127.0.0.1, attackers from 127.0.1.x and 127.0.2.x.
"""

import os
import resource
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from bitsd_harness import (
    mount_tmpfs,
    KIB, MIB, NO_LIMITS, BitsClient, HttpConnection, PatternSource, ServerTestCase,
)

SERVICE_UNAVAILABLE = "0x801901F7"


def limits(**kw):
    out = dict(NO_LIMITS)
    out.update(kw)
    return out


class BoundConnection(HttpConnection):
    """An HttpConnection from a chosen local address."""

    def __init__(self, host, port, source, timeout=60.0):
        self.host = host
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.closed = False


class BoundClient(BitsClient):
    def __init__(self, server, source, **kw):
        super().__init__(server, **kw)
        self.source = source

    def connect(self):
        host, port = self.address()
        return BoundConnection(host, port, self.source, self.timeout)


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def closed_by_server(sock, within=5.0):
    """True when the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def open_bound(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


class LimitsTestCase(ServerTestCase):

    def assert_unavailable(self, r, retry_after, msg=""):
        self.assert_bits_error(r, 503, SERVICE_UNAVAILABLE, msg=msg)
        self.assertEqual(r.headers.get("Retry-After"), retry_after, f"Retry-After{msg}\n{r}")


class ConnectionCapTest(LimitsTestCase):

    def test_connections_over_a_cap_are_closed_and_a_freed_place_is_reused(self):
        srv, _ = self.start(extra={"limits": limits(max_connections=6, max_connections_per_client=4)})
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(4):
            held.append(open_bound(srv.port, "127.0.1.1"))
        # A fifth client's connection is admitted and served (five connections overall).
        fifth = BoundClient(srv, "127.0.1.2", timeout=10)
        self.addCleanup(fifth.reset)
        self.assertEqual(fifth.ping().status, 200)
        extra = open_bound(srv.port, "127.0.1.1")
        self.addCleanup(extra.close)
        self.assertTrue(closed_by_server(extra), "a fifth connection of one client was kept")
        held.append(open_bound(srv.port, "127.0.1.3"))  # the sixth overall
        over = open_bound(srv.port, "127.0.1.4")
        self.addCleanup(over.close)
        self.assertTrue(closed_by_server(over), "a seventh connection overall was kept")
        self.assertFalse(closed_by_server(held[0], within=0.2), "an admitted connection was closed")
        # One place frees up: the next connection is served.
        held.pop(0).close()
        deadline = time.monotonic() + 10
        while True:
            c = BoundClient(srv, "127.0.1.1", timeout=5)
            try:
                if c.ping().status == 200:
                    break
            except (ConnectionError, socket.timeout, OSError):
                pass
            finally:
                c.reset()
            self.assertLess(time.monotonic(), deadline, "a freed place was never given out again")
            time.sleep(0.1)
        self.assertIn("connection limit reached", srv.log_text())


class SessionLimitsTest(LimitsTestCase):

    def test_open_sessions_per_client(self):
        srv, c = self.start(extra={"limits": limits(max_open_sessions_per_client=3)})
        sids = [c.new_session(f"s{i}.bin") for i in range(3)]
        self.assert_unavailable(c.create_session("s3.bin"), "10", " (a fourth open session)")
        other = BoundClient(srv, "127.0.2.9")
        self.addCleanup(other.reset)
        self.assertEqual(other.create_session("o.bin").status, 200, "another client was refused")
        # Cancel and Close give the place back.
        self.assertEqual(c.cancel(sids[0], "s0.bin").status, 200)
        sid = c.new_session("s4.bin")
        self.assert_unavailable(c.create_session("s5.bin"), "10")
        self.assertEqual(c.close(sid, "s4.bin").status, 200)  # an empty file commits
        c.new_session("s6.bin")

    def test_create_session_rate_per_client(self):
        srv, c = self.start(extra={"limits": limits(create_sessions_per_minute_per_client=5)})
        for i in range(5):
            c.new_session(f"r{i}.bin")
        r = c.create_session("r5.bin")
        self.assert_unavailable(r, "10", " (the sixth Create-Session within a minute)")
        self.assertTrue(r.keep_alive(), "a rate-limited client's connection was closed")
        self.assertEqual(c.ping().status, 200)
        other = BoundClient(srv, "127.0.2.10")
        self.addCleanup(other.reset)
        self.assertEqual(other.create_session("o.bin").status, 200, "another client was refused")


class PerUserSessionLimitsTest(LimitsTestCase):
    """Behind a trusted proxy every user comes from one address: the open-session cap and the
    Create-Session rate count per user there, so one user cannot spend another's."""

    PROXY_AUTH = {"type": "trusted-header", "header": "X-Remote-User", "trusted_proxies": ["127.0.0.1/32"]}

    def assert_per_user(self, limit, allowed, what):
        """Alice, behind the proxy, reaches `limit` after `allowed` sessions; bob, behind the
        same proxy, still gets his own `allowed`."""
        srv, proxy = self.start(upload={"auth": self.PROXY_AUTH}, extra={"limits": limits(**limit)})
        alice = [("X-Remote-User", "alice")]
        bob = [("X-Remote-User", "bob")]
        for i in range(allowed):
            self.assertEqual(proxy.create_session(f"a{i}.bin", headers=alice).status, 200)
        self.assert_unavailable(proxy.create_session("over.bin", headers=alice), "10", f" (alice's {what})")
        for i in range(allowed):
            r = proxy.create_session(f"b{i}.bin", headers=bob)
            self.assertEqual(r.status, 200, f"bob was refused: alice spent his budget\n{r}")

    def test_an_authenticated_user_is_capped_by_max_open_sessions_per_client(self):
        self.assert_per_user({"max_open_sessions_per_client": 2}, 2, "third open session")

    def test_the_create_session_rate_counts_per_user(self):
        self.assert_per_user({"create_sessions_per_minute_per_client": 3}, 3,
                             "fourth Create-Session within a minute")


class SlowlorisAndFloodTest(LimitsTestCase):
    """1,000 idle or slow connections and a Create-Session flood while a real upload runs."""

    ATTACK_ADDRESSES = 20
    PER_ADDRESS = 50

    def test_a_real_upload_completes_under_attack(self):
        attackers = self.ATTACK_ADDRESSES * self.PER_ADDRESS
        if raise_fd_limit(attackers + 400) < attackers + 200:
            self.skipTest("RLIMIT_NOFILE too low for 1,000 attacking connections")
        srv, _ = self.start(extra={
            "idle_timeout_s": 300, "read_timeout_s": 300,
            "limits": limits(max_connections=5000, max_connections_per_client=self.PER_ADDRESS,
                             max_open_sessions_per_client=20,
                             create_sessions_per_minute_per_client=30)})
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for a in range(self.ATTACK_ADDRESSES):
            for i in range(self.PER_ADDRESS):
                s = open_bound(srv.port, f"127.0.1.{a + 1}")
                if i % 2:  # slowloris: a header begun and never finished
                    s.sendall(b"BITS_POST /uploads/x HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
        # One more from a full address is refused at once.
        over = open_bound(srv.port, "127.0.1.1")
        self.addCleanup(over.close)
        self.assertTrue(closed_by_server(over), "the 51st connection of an attacker was kept")

        stop = threading.Event()
        flood = {"ok": 0, "refused": 0, "other": [], "requests": 0}

        def flood_creates():
            c = BoundClient(srv, "127.0.2.1", timeout=30)
            try:
                # Until refused 20 times (the caps are 20 open sessions and a burst of 30), however
                # fast the real upload finishes: a loaded machine may start this thread late.
                while flood["refused"] < 20 and flood["requests"] < 2000:
                    flood["requests"] += 1
                    r = c.create_session(f"flood{flood['requests']}.bin")
                    if r.status == 200:
                        flood["ok"] += 1
                    elif r.status == 503 and r.headers.get("Retry-After") == "10":
                        flood["refused"] += 1
                    else:
                        flood["other"].append(str(r))
            except Exception as e:  # reported below
                flood["other"].append(repr(e))
            finally:
                c.reset()

        def trickle():
            # Slow attackers send one more header byte every second; the idle ones stay idle.
            while not stop.wait(1.0):
                for s in socks[1::2]:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass

        threads = [threading.Thread(target=flood_creates), threading.Thread(target=trickle)]
        for t in threads:
            t.start()
        try:
            data = PatternSource(8 * MIB, 4242)
            started = time.monotonic()
            real = BitsClient(srv, timeout=60)
            self.addCleanup(real.reset)
            result = real.upload_file(data, "real.bin", MIB)
            self.assert_ok(real.close(result.session_id, "real.bin"), result.session_id)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assert_file(srv.file_path("real.bin"), data.sha256(), data.size)
        self.assertLess(elapsed, 120, "the real upload took too long under attack")
        self.assertEqual(flood["other"], [], "the flood got answers other than 200 or 503")
        self.assertGreater(flood["refused"], 0, "the Create-Session flood was never refused")
        self.assertLessEqual(flood["ok"], 20, "the flood held more open sessions than allowed")
        # The attackers are all still connected (bitsd held them, and was not hurt by them).
        alive = sum(1 for s in socks[:50] if not closed_by_server(s, within=0.01))
        self.assertEqual(alive, 50)
        srv.assert_alive()



class NearlyFullDiskTest(LimitsTestCase):

    def start_on_tmpfs(self, options, **kw):
        root = mount_tmpfs(self, options)
        data_dir = os.path.join(root, "data")
        files_dir = os.path.join(root, "files")
        srv, c = self.start(extra={"data_dir": data_dir, "limits": limits(**kw)},
                            upload={"destination_dir": files_dir})
        srv.files_dir = files_dir
        return root, srv, c

    def test_below_the_free_space_reserve_new_work_waits_and_every_acked_byte_is_kept(self):
        root, srv, c = self.start_on_tmpfs("size=48m", min_free_disk_bytes=16 * MIB)
        data = PatternSource(12 * MIB, 77)
        sid = c.new_session("kept.bin")
        doomed = c.new_session("doomed.bin")
        for first in range(0, 8 * MIB, MIB):
            self.assertEqual(c.fragment(sid, data, first, data.size, "kept.bin", n=MIB).status, 200)
        # Fill the file system until 12 MiB are left, under the 16 MiB reserve.
        filler = os.path.join(root, "filler")
        st = os.statvfs(root)
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 12 * MIB))
        self.assert_unavailable(c.create_session("new.bin"), "60", " (Create-Session, low on space)")
        r = c.fragment(sid, data, 8 * MIB, data.size, "kept.bin", n=MIB)
        self.assert_unavailable(r, "60", " (Fragment, low on space)")
        # A duplicate stores nothing and is acknowledged; Cancel frees space and still works.
        self.assertEqual(c.fragment(sid, data, 0, data.size, "kept.bin", n=MIB).status, 200)
        self.assertEqual(c.cancel(doomed, "doomed.bin").status, 200)
        self.assertEqual(c.ping().status, 200)
        os.remove(filler)
        # Room again: the upload continues where the acknowledgements left it, and is whole.
        result = c.upload_file(data, "kept.bin", MIB, session=sid, offset=8 * MIB)
        self.assertEqual(result.restarts, 0)
        self.assert_ok(c.close(sid, "kept.bin"), sid)
        self.assert_file(srv.file_path("kept.bin"), data.sha256(), data.size)
        self.assertIn("low on space", srv.log_text())

    def test_below_the_free_inode_reserve_new_sessions_wait(self):
        root, srv, c = self.start_on_tmpfs("size=16m,nr_inodes=400", min_free_inodes=200)
        sid = c.new_session("early.bin")
        self.assertEqual(c.fragment(sid, b"x" * KIB, 0, 2 * KIB, "early.bin").status, 200)
        st = os.statvfs(root)
        spare = os.path.join(root, "spare")
        os.mkdir(spare)
        for i in range(st.f_favail - 150):
            open(os.path.join(spare, str(i)), "wb").close()
        self.assert_unavailable(c.create_session("late.bin"), "60", " (Create-Session, few inodes)")
        self.assert_unavailable(c.fragment(sid, b"y" * KIB, KIB, 2 * KIB, "early.bin"), "60",
                                " (Fragment, few inodes)")
        for name in os.listdir(spare):
            os.remove(os.path.join(spare, name))
        self.assertEqual(c.fragment(sid, b"y" * KIB, KIB, 2 * KIB, "early.bin").status, 200)
        self.assert_ok(c.close(sid, "early.bin"), sid)
        with open(srv.file_path("early.bin"), "rb") as f:
            self.assertEqual(f.read(), b"x" * KIB + b"y" * KIB)
        c.new_session("late.bin")


if __name__ == "__main__":
    unittest.main()
