"""Whole uploads through bitsd with the client rules of bits-protocol.md section 3.1: sizes from 0
bytes to 1 GiB, varying fragment sizes, concurrency, subdirectories."""

import os
import threading
import time
import unittest

from bitsd_harness import (
    GIB, KIB, MIB, BitsAssertions, BitsClient, PatternSource, Server, sha256_file)


class UploadTest(BitsAssertions, unittest.TestCase):

    def start(self, **kw):
        srv = Server(self, **kw).start()
        client = BitsClient(srv)
        self.addCleanup(client.reset)
        return srv, client

    def upload_and_verify(self, srv, client, source, name, fragment_size):
        expected = source.sha256()
        result = client.upload_file(source, name, fragment_size)
        self.assertEqual(result.restarts, 0, "no SESSION_NOT_FOUND expected")
        self.assertEqual(result.reconnects, 0, "no connection errors expected")
        self.assert_file(srv.file_path(name), expected, source.size)
        return result

    def test_upload_0_bytes(self):
        srv, c = self.start()
        r = self.upload_and_verify(srv, c, PatternSource(0, 1), "zero.bin", 8 * MIB)
        self.assertEqual(r.fragments, 0)

    def test_upload_1_byte(self):
        srv, c = self.start()
        r = self.upload_and_verify(srv, c, PatternSource(1, 2), "one.bin", 8 * MIB)
        self.assertEqual(r.fragments, 1)

    def test_upload_4892_bytes(self):
        # The size of the file in the [MC-BUP] section 4 captures.
        srv, c = self.start()
        self.upload_and_verify(srv, c, PatternSource(4892, 3), "rfc.txt", 8 * MIB)
        srv2, c2 = self.start()
        r = self.upload_and_verify(srv2, c2, PatternSource(4892, 3), "rfc.txt",
                                   [1000, 1, 2891, 1000])
        self.assertEqual(r.fragments, 4)

    def test_upload_50mib_varying_fragments(self):
        srv, c = self.start(fsync="durable")
        size = 50 * MIB + 12345
        sizes = [8 * MIB, 5 * KIB, 3 * MIB + 7, 8 * MIB, 1, MIB - 1, 8 * MIB, 6 * MIB + 4321]
        r = self.upload_and_verify(srv, c, PatternSource(size, 4), "fifty.bin", sizes)
        self.assertGreaterEqual(r.fragments, 8)
        # Every fragment was acknowledged exactly at its end (no resync in a clean run).
        for packet, first, n, status, got in r.responses:
            if packet == "Fragment":
                self.assertEqual((status, got), (200, first + n))

    def test_upload_1gib(self):
        srv, c = self.start(fsync="none")
        size = GIB
        source = PatternSource(size, 5)
        t0 = time.monotonic()
        expected = source.sha256()
        t1 = time.monotonic()
        result = c.upload_file(source, "one-gib.bin", 8 * MIB)
        t2 = time.monotonic()
        self.assertEqual(result.restarts, 0)
        self.assertEqual(result.fragments, size // (8 * MIB))
        path = srv.file_path("one-gib.bin")
        self.assertEqual(os.path.getsize(path), size)
        self.assertEqual(sha256_file(path), expected)
        t3 = time.monotonic()
        print(f"\n1 GiB: generate+hash {t1 - t0:.1f} s, upload {t2 - t1:.1f} s "
              f"({size / MIB / max(t2 - t1, 1e-9):.0f} MiB/s), verify {t3 - t2:.1f} s")

    def test_8_concurrent_uploads(self):
        srv, _ = self.start(fsync="durable")
        n = 8
        sources = [PatternSource(3 * MIB + i * 7777, 100 + i) for i in range(n)]
        errors = [None] * n
        results = [None] * n
        barrier = threading.Barrier(n)

        def run(i):
            try:
                client = BitsClient(srv)
                barrier.wait(10)
                results[i] = client.upload_file(sources[i], f"concurrent-{i}.bin",
                                                [256 * KIB, 100 * KIB + i, 300 * KIB])
                client.reset()
            except BaseException as e:  # reported below
                errors[i] = e

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            self.assertFalse(t.is_alive(), "an upload thread hangs")
        for i in range(n):
            self.assertIsNone(errors[i], f"upload {i} failed: {errors[i]!r}")
        ids = {results[i].session_id.upper() for i in range(n)}
        self.assertEqual(len(ids), n, "sessions must have distinct ids")
        for i in range(n):
            with self.subTest(i):
                self.assertEqual(results[i].restarts, 0)
                self.assert_file(srv.file_path(f"concurrent-{i}.bin"), sources[i].sha256(),
                                 sources[i].size)

    def test_8_concurrent_sessions_same_name_one_connection_each(self):
        # Eight sessions for the same URL may coexist; each commits (overwrites allowed),
        # and the file in the end is one of the eight, whole (never a mix).
        srv, _ = self.start(upload={"allow_overwrites": True})
        n = 8
        sources = [PatternSource(MIB + i, 200 + i) for i in range(n)]
        expected = {s.sha256() for s in sources}
        errors = []

        def run(i):
            try:
                c = BitsClient(srv)
                c.upload_file(sources[i], "same.bin", 64 * KIB)
                c.reset()
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertIn(sha256_file(srv.file_path("same.bin")), expected)

    def test_racing_requests_same_session(self):
        # A retry may race a still-running earlier request of the same session on another
        # connection (bits-protocol.md 3.5): the server serialises them per session. Four
        # connections send the same fragments at the same time; every answer is a 200 (or a
        # 416 resync) at a consistent offset, and the committed file is byte-exact.
        srv, c = self.start()
        name = "race.bin"
        source = PatternSource(2 * MIB, 300)
        sid = c.new_session(name)
        frag = 128 * KIB
        errors = []
        answers = []
        lock = threading.Lock()

        def run(k):
            client = BitsClient(srv)
            try:
                off = 0
                while off < source.size:
                    n = min(frag, source.size - off)
                    r = client.fragment(sid, source, off, source.size, name=name, n=n)
                    with lock:
                        answers.append((k, off, r.status, r.headers.get(
                            "BITS-Received-Content-Range")))
                    if r.status not in (200, 416):
                        raise AssertionError(f"connection {k}, fragment at {off}:\n{r}")
                    got = r.received()
                    if r.status == 200 and got < off + n:
                        raise AssertionError(f"200 for [{off}, {off + n}) acknowledges {got}")
                    off = got if r.status == 416 else off + n
            except BaseException as e:
                errors.append(e)
            finally:
                client.reset()

        threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assert_ok(c.close(sid, name), sid)
        self.assert_file(srv.file_path(name), source.sha256(), source.size)

    def test_two_upload_prefixes(self):
        srv = Server(self, extra={})
        other_dir = os.path.join(srv.root, "dumps")
        srv.config["uploads"].append({
            "url_prefix": "/crash-dumps/", "destination_dir": other_dir,
            "allow_overwrites": True, "max_upload_size": 1000, "session_timeout_s": 86400})
        srv.write_config()
        srv.start()
        c = BitsClient(srv)
        self.addCleanup(c.reset)
        c.upload_file(PatternSource(5000, 1), "a.bin", 1000)
        self.assert_file(srv.file_path("a.bin"), PatternSource(5000, 1).sha256(), 5000)
        dumps = BitsClient(srv, prefix="/crash-dumps/")
        self.addCleanup(dumps.reset)
        dumps.upload_file(PatternSource(900, 2), "d.bin", 400)
        self.assert_file(os.path.join(other_dir, "d.bin"), PatternSource(900, 2).sha256(), 900)
        self.assertFalse(os.path.exists(srv.file_path("d.bin")))
        # Each prefix has its own settings: overwrites allowed there, and a 1000-byte limit.
        dumps.upload_file(PatternSource(800, 3), "d.bin", 400)
        self.assert_file(os.path.join(other_dir, "d.bin"), PatternSource(800, 3).sha256(), 800)
        sid = dumps.new_session("big.bin")
        r = dumps.fragment(sid, b"x" * 10, 0, 1001, name="big.bin")
        self.assert_bits_error(r, 500, "0x80200020", sid)
        r = c.create_session("a.bin")
        self.assert_bits_error(r, 403, "0x80070005")

    def test_subdirectory_names(self):
        srv, c = self.start()
        for name in ("a/b/c.bin", "a/b/d.bin", "x/y.bin", "deep/1/2/3/4/5/f.txt"):
            with self.subTest(name):
                src = PatternSource(10_000 + len(name), sum(name.encode()))
                self.upload_and_verify(srv, c, src, name, 4096)
        self.assertTrue(os.path.isfile(os.path.join(srv.files_dir, "a", "b", "c.bin")))

    def test_two_create_sessions_same_url_different_ids(self):
        srv, c = self.start()
        ids = set()
        for _ in range(5):
            r = c.create_session("same-url.bin")
            self.assert_ok(r)
            ids.add(r.headers["BITS-Session-Id"].upper())
        self.assertEqual(len(ids), 5, f"session ids repeat: {ids}")
        # Each is a live session of its own: the first uploads and commits, another cancels.
        first, *rest = sorted(ids)
        self.assert_ok(c.fragment(first, b"first", 0, 5, name="same-url.bin"))
        self.assert_ok(c.cancel(rest[0], "same-url.bin"))
        self.assert_ok(c.close(first, "same-url.bin"))
        with open(srv.file_path("same-url.bin"), "rb") as f:
            self.assertEqual(f.read(), b"first")


if __name__ == "__main__":
    unittest.main()
