"""Interrupted uploads: dropped connections, daemon crashes (SIGKILL) and restarts, a randomized
kill loop checking that no acknowledged byte is ever lost, and bounded memory for big fragments.
"""

import json
import os
import random
import threading
import time
import unittest

from bitsd_harness import (
    BG_E_SESSION_NOT_FOUND, KIB, MIB, BitsAssertions, BitsClient, HttpConnection,
    PatternSource, ProtocolError, Server, build_head, under_asan, vm_hwm_kib)


class ResumeTestBase(BitsAssertions, unittest.TestCase):

    def start(self, **kw):
        srv = Server(self, **kw).start()
        client = BitsClient(srv)
        self.addCleanup(client.reset)
        return srv, client

    def send_fragments(self, client, sid, data, name, offset, count, size):
        """`count` in-order fragments from `offset`; each must be a 200 at its end."""
        for _ in range(count):
            n = min(size, data.size - offset)
            if n == 0:
                break
            r = client.fragment(sid, data, offset, data.size, name=name, n=n)
            self.assert_ok(r, sid, f"\nfragment [{offset}, {offset + n})")
            self.assert_received(r, offset + n)
            offset += n
        return offset

    def probe_offset(self, client, sid, data, name):
        """The server's next expected offset: a 1-byte fragment carrying the file's true last
        byte is a gap (416 + the offset) unless everything before it is stored."""
        r = client.fragment(sid, data, data.size - 1, data.size, name=name, n=1)
        self.assertIn(r.status, (200, 416), f"probe fragment:\n{r}")
        self.assert_ack(r, r.status, sid)
        return r.received()

    def send_partial(self, srv, sid, data, name, offset, n, part):
        """Headers of a fragment [offset, offset+n) and only `part` bytes of its body; returns the
        open connection."""
        conn = HttpConnection("127.0.0.1", srv.port, 10)
        head = build_head("BITS_POST", f"/uploads/{name}", [
            ("Host", f"127.0.0.1:{srv.port}"),
            ("BITS-Packet-Type", "Fragment"),
            ("BITS-Session-Id", sid),
            ("Content-Name", name),
            ("Content-Range", f"bytes {offset}-{offset + n - 1}/{data.size}"),
            ("Content-Length", str(n)),
        ])
        conn.send(head)
        for chunk in data.chunks(offset, part, chunk=256 * KIB):
            conn.send(chunk)
        return conn


class DropConnectionTest(ResumeTestBase):

    def _drop_mid_fragment(self, use_rst):
        srv, c = self.start(fsync="durable")
        name = "drop.bin"
        data = PatternSource(4 * MIB + 123, 41)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 3, 256 * KIB)
        half = 512 * KIB
        conn = self.send_partial(srv, sid, data, name, acked, 1 * MIB, half)
        time.sleep(0.3)  # let the server consume what was sent
        if use_rst:
            conn.reset()
        else:
            conn.close()
        time.sleep(0.2)
        srv.assert_alive()
        c.reset()
        e = self.probe_offset(c, sid, data, name)
        self.assertGreaterEqual(e, acked, "the server lost acknowledged bytes")
        self.assertLessEqual(e, acked + half, "the server claims bytes it never received")
        # The client rule: continue at the server's offset, then commit byte-exact.
        result = c.upload_file(data, name, 256 * KIB, session=sid, offset=e)
        self.assertEqual(result.restarts, 0)
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_drop_connection_mid_fragment_then_resume(self):
        self._drop_mid_fragment(use_rst=False)

    def test_reset_connection_mid_fragment_then_resume(self):
        self._drop_mid_fragment(use_rst=True)

    def test_drop_connection_before_reading_ack(self):
        # The whole fragment is sent, the client drops the connection before reading the Ack
        # (a lost Ack): the retry of the same fragment is a duplicate, answered 200.
        srv, c = self.start(fsync="durable")
        name = "lostack.bin"
        data = PatternSource(MIB, 42)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 1, 256 * KIB)
        conn = self.send_partial(srv, sid, data, name, acked, 256 * KIB, 256 * KIB)
        conn.close()
        time.sleep(0.2)
        c.reset()
        r = c.fragment(sid, data, acked, data.size, name=name, n=256 * KIB)
        self.assert_ok(r, sid)
        self.assertIn(r.received(), (acked + 256 * KIB,))
        c.upload_file(data, name, 256 * KIB, session=sid, offset=r.received())
        self.assert_file(srv.file_path(name), data.sha256(), data.size)


class StalledClientTest(ResumeTestBase):

    def test_stalled_connection_releases_session(self):
        # A client sends headers and part of a body, then stalls with the connection open.
        # After read_timeout_s the server gives up on it, and the retry on a new connection
        # (which waits for the session) is answered; nothing acknowledged is lost.
        srv, c = self.start(fsync="durable", extra={"read_timeout_s": 2})
        name = "stall.bin"
        data = PatternSource(MIB, 49)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 1, 256 * KIB)
        stalled = self.send_partial(srv, sid, data, name, acked, 256 * KIB, 100 * KIB)
        self.addCleanup(stalled.close)
        time.sleep(0.2)
        c.reset()
        c.timeout = 15
        t0 = time.monotonic()
        try:
            r = c.fragment(sid, data, acked, data.size, name=name, n=256 * KIB)
        except OSError as e:
            self.fail(f"retry of a stalled fragment not answered within 15 s "
                      f"(read_timeout_s is 2): {e!r}")
        waited = time.monotonic() - t0
        self.assert_ok(r, sid, f"\nretry after {waited:.1f} s")
        self.assertGreaterEqual(r.received(), acked + 256 * KIB)
        c.upload_file(data, name, 256 * KIB, session=sid, offset=r.received())
        self.assert_file(srv.file_path(name), data.sha256(), data.size)
        srv.assert_alive()


class StopTest(ResumeTestBase):

    def test_sigterm_while_a_fragment_streams_and_another_waits(self):
        # One connection holds the session's lock mid-body, a second waits for it: SIGTERM must
        # end the daemon cleanly (exit 0), not crash while tearing the connections down.
        srv, c = self.start(fsync="durable")
        name = "term.bin"
        data = PatternSource(2 * MIB, 50)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 1, 256 * KIB)
        holder = self.send_partial(srv, sid, data, name, acked, 256 * KIB, 100 * KIB)
        self.addCleanup(holder.close)
        waiter = self.send_partial(srv, sid, data, name, acked, 256 * KIB, 256 * KIB)
        self.addCleanup(waiter.close)
        time.sleep(0.3)
        rc = srv.stop()
        self.assertEqual(rc, 0, f"bitsd exited with {rc} on SIGTERM during an upload:\n"
                                f"{srv.log_text()}")
        srv.start()  # and the session is still there, its bytes intact
        c.reset()
        r = c.fragment(sid, data, acked, data.size, name=name, n=256 * KIB)
        self.assert_ok(r, sid)
        c.upload_file(data, name, 256 * KIB, session=sid, offset=r.received())
        self.assert_file(srv.file_path(name), data.sha256(), data.size)


class ExpiryTest(ResumeTestBase):

    def test_session_expires_after_timeout(self):
        # session_timeout_s 2, swept every second: 5 s without a message is well past it
        # (second-granular timestamps included).
        srv, c = self.start(upload={"session_timeout_s": 2}, extra={"cleanup_interval_s": 1})
        name = "expire.bin"
        sid = c.new_session(name)
        self.assert_ok(c.fragment(sid, b"abc", 0, 10, name=name), sid)
        session_dir = os.path.join(srv.data_dir, "sessions", sid[1:3].lower(), sid)
        self.assertTrue(os.path.isdir(session_dir), session_dir)
        time.sleep(5)
        # The sweep deleted it from disk (not only the lookup that refuses expired sessions).
        self.assertFalse(os.path.exists(session_dir), "expired session still on disk")
        c.reset()
        r = c.fragment(sid, b"defghij", 3, 10, name=name)
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid,
                               "\nsession alive 5 s after a 2 s session timeout")
        self.assertFalse(os.path.exists(srv.file_path(name)))
        # A live session is not expired while it keeps receiving messages.
        sid = c.new_session(name)
        for i in range(4):
            self.assert_ok(c.fragment(sid, bytes([65 + i]), i, 4, name=name), sid)
            time.sleep(0.3)
        self.assert_ok(c.close(sid, name), sid)


class CrashRestartTest(ResumeTestBase):

    def test_sigkill_between_fragments_then_resume(self):
        srv, c = self.start(fsync="durable")
        name = "crash.bin"
        data = PatternSource(3 * MIB + 5, 43)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 5, 256 * KIB)
        old_port = srv.port
        srv.kill()
        srv.start()
        c.reset()
        # The client pings after an interruption, then continues with the same session.
        self.assert_ok(c.ping(name))
        r = c.fragment(sid, data, acked, data.size, name=name, n=256 * KIB)
        self.assertFalse(r.is_session_not_found(),
                         f"the session was lost by the crash (port {old_port} -> {srv.port}):"
                         f"\n{r}")
        self.assert_ok(r, sid)
        self.assert_received(r, acked + 256 * KIB)
        result = c.upload_file(data, name, 256 * KIB, session=sid, offset=r.received())
        self.assertEqual(result.restarts, 0)
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_client_survives_daemon_crashes_during_upload(self):
        # The client rules end to end: an upload running in a thread while the daemon is
        # SIGKILLed and restarted (on a new port) three times; the client reconnects, follows
        # the new port and the server's offsets, and the file commits byte-exact with the same
        # session (no SESSION_NOT_FOUND restart).
        srv, c = self.start(fsync="durable")
        name = "survivor.bin"
        data = PatternSource(16 * MIB + 3, 50)
        outcome = {}
        progress = []

        def upload():
            client = BitsClient(srv)
            try:
                outcome["result"] = client.upload_file(
                    data, name, 256 * KIB, reconnect_timeout=30,
                    on_response=lambda *e: progress.append(e))
            except BaseException as e:
                outcome["error"] = e
            finally:
                client.reset()

        thread = threading.Thread(target=upload)
        thread.start()
        ports = [srv.port]
        for i in range(3):
            # Wait until the upload has made some progress, then crash the daemon.
            deadline = time.monotonic() + 30
            seen = len(progress)
            while len(progress) < seen + 5 and thread.is_alive():
                self.assertLess(time.monotonic(), deadline, "upload makes no progress")
                time.sleep(0.005)
            srv.kill()
            time.sleep(0.1)
            srv.start()
            ports.append(srv.port)
        thread.join(120)
        self.assertFalse(thread.is_alive(), "upload thread hangs")
        self.assertNotIn("error", outcome, f"upload failed: {outcome.get('error')!r}")
        result = outcome["result"]
        self.assertEqual(result.restarts, 0, "the session was lost in a crash")
        self.assertGreater(result.reconnects, 0, "the upload never saw a crash")
        self.assert_file(srv.file_path(name), data.sha256(), data.size,
                         f"\nports {ports}, {result.reconnects} reconnects")

    def test_sigterm_between_fragments_then_resume(self):
        srv, c = self.start(fsync="durable")
        name = "term.bin"
        data = PatternSource(2 * MIB, 44)
        sid = c.new_session(name)
        acked = self.send_fragments(c, sid, data, name, 0, 3, 256 * KIB)
        rc = srv.stop()
        self.assertEqual(rc, 0, f"bitsd exit status after SIGTERM; output:\n{srv.log_text()}")
        srv.start()
        c.reset()
        r = c.fragment(sid, data, acked, data.size, name=name, n=256 * KIB)
        self.assert_ok(r, sid)
        self.assert_received(r, acked + 256 * KIB)
        c.upload_file(data, name, 256 * KIB, session=sid, offset=r.received())
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_sigkill_after_last_fragment_then_close(self):
        srv, c = self.start(fsync="durable")
        name = "last.bin"
        data = PatternSource(MIB + 1, 45)
        sid = c.new_session(name)
        self.send_fragments(c, sid, data, name, 0, 10, 256 * KIB)
        srv.kill()
        srv.start()
        c.reset()
        self.assertFalse(os.path.exists(srv.file_path(name)))
        self.assert_ok(c.close(sid, name), sid)
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_startup_finishes_a_commit_interrupted_by_a_crash(self):
        # A crash after Close-Session recorded "committing" but before the file moved: the
        # start-up sweep finishes the commit without waiting for the client to retry Close.
        srv, c = self.start(fsync="durable")
        name = "half-committed.bin"
        data = PatternSource(200 * KIB, 48)
        sid = c.new_session(name)
        self.send_fragments(c, sid, data, name, 0, 2, 100 * KIB)
        srv.kill()
        session_dir = os.path.join(srv.data_dir, "sessions", sid[1:3].lower(), sid)
        meta_path = os.path.join(session_dir, "metadata.json")
        with open(meta_path) as f:
            meta = json.load(f)
        self.assertEqual(meta["state"], "receiving")
        meta["state"] = "committing"
        with open(meta_path, "w") as f:
            json.dump(meta, f)
        self.assertFalse(os.path.exists(srv.file_path(name)))
        srv.start()
        deadline = time.monotonic() + 10
        while not os.path.exists(srv.file_path(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assert_file(srv.file_path(name), data.sha256(), data.size,
                         "\nthe start-up sweep did not finish the interrupted commit")
        c.reset()
        self.assert_ok(c.close(sid, name), sid)  # the client's retried Close still answers 200

    def test_sigkill_after_close_repeated_close_200(self):
        srv, c = self.start(fsync="durable")
        name = "closed.bin"
        data = PatternSource(300 * KIB, 46)
        result = c.upload_file(data, name, 100 * KIB)
        srv.kill()
        srv.start()
        c.reset()
        self.assert_file(srv.file_path(name), data.sha256(), data.size,
                         "\ncommitted file after a crash")
        # The closed session is remembered across the crash (a retried Close must not make the
        # client start over).
        self.assert_ok(c.close(result.session_id, name), result.session_id)
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_sigkill_unknown_session_after_cancel(self):
        srv, c = self.start(fsync="durable")
        name = "cancelled.bin"
        data = PatternSource(300 * KIB, 47)
        sid = c.new_session(name)
        self.send_fragments(c, sid, data, name, 0, 1, 100 * KIB)
        self.assert_ok(c.cancel(sid, name), sid)
        srv.kill()
        srv.start()
        c.reset()
        r = c.fragment(sid, data, 100 * KIB, data.size, name=name, n=100 * KIB)
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid,
                               "\na cancelled session came back after a crash")
        self.assertFalse(os.path.exists(srv.file_path(name)))


class KillLoopTest(ResumeTestBase):

    def race_with_kill(self, srv, delay, request, ctx):
        """Sends `request(client)` on a new connection while a timer SIGKILLs the daemon after
        `delay` seconds. Returns {"r": response} or {"error": exception}; the daemon is dead."""
        outcome = {}
        client = BitsClient(srv)

        def send():
            try:
                outcome["r"] = request(client)
            except (OSError, ProtocolError) as e:
                outcome["error"] = e
            finally:
                client.reset()

        sender = threading.Thread(target=send)
        timer = threading.Timer(delay, srv.kill)
        sender.start()
        timer.start()
        sender.join(60)
        timer.join(60)
        self.assertFalse(sender.is_alive(), "request thread hangs" + ctx())
        srv.kill()  # no-op when the timer already did it
        return outcome

    ROUNDS = 10
    FRAGMENT = 512 * KIB

    def test_random_kill_loop_never_loses_acknowledged_bytes(self):
        seed = int(os.environ.get("BITSD_E2E_SEED") or random.SystemRandom().randrange(2 ** 32))
        print(f"\nkill loop seed: {seed} (rerun with BITSD_E2E_SEED={seed})", flush=True)
        rng = random.Random(seed)
        srv, c = self.start(fsync="durable")
        name = "killloop.bin"
        size = 24 * MIB + rng.randrange(MIB)
        data = PatternSource(size, seed)
        sid = c.new_session(name)
        acked = 0        # the highest BITS-Received-Content-Range the client ever got
        history = []

        def ctx():
            return f"\nseed {seed}; history:\n" + "\n".join(history[-15:])

        for rnd in range(self.ROUNDS):
            before = rng.randrange(3)
            acked = self.send_fragments(c, sid, data, name, acked, before, self.FRAGMENT)
            n = min(self.FRAGMENT, size - acked)
            self.assertGreater(n, 0, "file too small for the rounds" + ctx())
            mode = rng.choice(["between", "mid-body", "while-sending"])
            at = acked
            detail = ""
            if mode == "between":
                srv.kill()
            elif mode == "mid-body":
                part = rng.randrange(n)
                conn = self.send_partial(srv, sid, data, name, acked, n, part)
                time.sleep(rng.uniform(0, 0.05))
                srv.kill()
                conn.close()
                detail = f"sent {part} of {n}"
            else:
                delay = rng.uniform(0, 0.06)
                outcome = self.race_with_kill(srv, delay, lambda client: client.fragment(
                    sid, data, at, size, name=name, n=n, stream=True, pace=0.006), ctx)
                r = outcome.get("r")
                if r is not None:
                    self.assertIn(r.status, (200,), f"fragment before the kill:\n{r}" + ctx())
                    acked = max(acked, r.received())
                    detail = f"kill after {delay * 1000:.0f} ms: Ack {r.received()} arrived"
                else:
                    detail = f"kill after {delay * 1000:.0f} ms: {outcome.get('error')!r}"
            history.append(f"round {rnd}: {before} fragments, then {mode} at {at} {detail}")
            srv.start()
            c.reset()

            # Did the server keep every acknowledged byte? The next fragment at the last
            # acknowledged offset must be a 200 (a 416 means it wants bytes below that offset).
            n = min(self.FRAGMENT, size - acked)
            if n == 0:
                break
            r = c.fragment(sid, data, acked, size, name=name, n=n)
            self.assertFalse(r.is_session_not_found(),
                             f"round {rnd}: session lost after restart:\n{r}" + ctx())
            if r.status == 416:
                self.fail(f"round {rnd}: lost acknowledged bytes: acknowledged {acked}, server "
                          f"wants {r.headers.get('BITS-Received-Content-Range')}\n{r}" + ctx())
            self.assert_ok(r, sid, f"\nround {rnd}: first fragment after restart" + ctx())
            self.assertGreaterEqual(r.received(), acked + n, str(r) + ctx())
            acked = r.received()
            history.append(f"round {rnd}: after restart at {acked}")

        # The remaining bytes, then a Close-Session with a crash at a random moment around it:
        # after the restart a Close must succeed (committed before the crash: remembered;
        # not yet: committed now) and the file must be whole.
        while acked < size:
            n = min(self.FRAGMENT, size - acked)
            r = c.fragment(sid, data, acked, size, name=name, n=n)
            self.assert_ok(r, sid, ctx())
            acked = r.received()
        delay = rng.uniform(0, 0.004)
        outcome = self.race_with_kill(srv, delay, lambda client: client.close(sid, name), ctx)
        first = outcome.get("r")
        history.append(f"close: kill after {delay * 1000:.1f} ms: "
                       f"{first.status if first else outcome.get('error')!r}")
        if first is not None:
            self.assert_ok(first, sid, ctx())
            self.assert_file(srv.file_path(name), data.sha256(), size,
                             "\nacknowledged Close, then crash" + ctx())
        srv.start()
        c.reset()
        self.assert_ok(c.close(sid, name), sid, "\nClose-Session after the crash" + ctx())
        self.assert_file(srv.file_path(name), data.sha256(), size, ctx())
        print("\n".join(history), flush=True)


class MemoryTest(ResumeTestBase):

    def test_memory_bounded_for_64mib_fragment(self):
        srv, c = self.start(fsync="none", max_fragment_size=80 * MIB)
        if under_asan(srv.pid):
            self.skipTest("AddressSanitizer build: its allocator makes RSS meaningless")
        name = "big-fragment.bin"
        size = 64 * MIB
        data = PatternSource(size, 48)
        sid = c.new_session(name)
        r = c.fragment(sid, data, 0, size, name=name, n=size, stream=True)
        self.assert_ok(r, sid)
        self.assert_received(r, size)
        hwm = vm_hwm_kib(srv.pid)
        self.assertLess(hwm, 48 * 1024,
                        f"bitsd's peak RSS (VmHWM) is {hwm} KiB after one 64 MiB fragment: it "
                        f"must stream bodies to disk, never hold a fragment whole")
        self.assert_ok(c.close(sid, name), sid)
        self.assert_file(srv.file_path(name), data.sha256(), size)
        print(f"\nVmHWM after a 64 MiB fragment: {hwm} KiB")


if __name__ == "__main__":
    unittest.main()
