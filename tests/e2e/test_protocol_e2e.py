"""BITS protocol behaviour of bitsd, packet by packet (bits-protocol.md sections 2-4 and the
"Decisions for bitsd" table). Every test starts its own bitsd in its own temp dir."""

import os
import random
import socket
import time
import unittest

from bitsd_harness import (
    BG_E_SESSION_NOT_FOUND, BG_E_TOO_LARGE, BITS_PROTOCOL_GUID, E_ACCESSDENIED, E_INVALIDARG,
    KIB, SESSION_ID_RE, BitsAssertions, BitsClient, HttpConnection, ProtocolError, Server,
    build_head, ServerTestCase)


def pseudo_random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


class ProtocolTestBase(ServerTestCase):

    def upload_all(self, client, sid, data, name, start=0, step=64 * KIB):
        """Sends [start, size) in order; every fragment must be a 200 with the right offset."""
        off = start
        while off < len(data):
            n = min(step, len(data) - off)
            r = client.fragment(sid, data[off:off + n], off, len(data), name=name)
            self.assert_ok(r, sid, f"\nfragment [{off}, {off + n})")
            self.assert_received(r, off + n)
            off += n

    def assert_server_serves(self, srv, client):
        """The daemon is alive and still answers BITS."""
        srv.assert_alive()
        client.reset()
        self.assert_ok(client.ping())


class CreateSessionTest(ProtocolTestBase):

    def test_create_session_ack(self):
        srv, c = self.start()
        r = c.create_session("a.bin")
        self.assert_ok(r)
        self.assertEqual(r.reason, "OK", str(r))
        self.assertEqual(r.headers.get("BITS-Protocol"), BITS_PROTOCOL_GUID, str(r))
        self.assertRegex(r.headers.get("BITS-Session-Id") or "", SESSION_ID_RE, str(r))
        self.assertEqual(r.headers.get("Accept-Encoding"), "identity", str(r))
        self.assertNotIn("BITS-Host-Id", r.headers, str(r))
        self.assertNotIn("BITS-Host-Id-Fallback-Timeout", r.headers, str(r))
        self.assertNotIn("BITS-Reply-URL", r.headers, str(r))
        # Create-Session does not create the destination file.
        self.assertFalse(os.path.exists(srv.file_path("a.bin")))

    def test_create_session_host_id_when_configured(self):
        srv, c = self.start(host_id="bits-node-7.example", host_id_fallback_timeout_s=110)
        r = c.create_session("a.bin")
        self.assert_ok(r)
        self.assertEqual(r.headers.get("BITS-Host-Id"), "bits-node-7.example", str(r))
        self.assertEqual(r.headers.get("BITS-Host-Id-Fallback-Timeout"), "110", str(r))
        sid = r.headers["BITS-Session-Id"]
        # Host-Id headers belong to the Create-Session Ack only.
        r = c.fragment(sid, b"xyz", 0, 3, name="a.bin")
        self.assert_ok(r, sid)
        self.assertNotIn("BITS-Host-Id", r.headers, str(r))
        r = c.ping()
        self.assert_ok(r)
        self.assertNotIn("BITS-Host-Id", r.headers, str(r))

    def test_two_create_sessions_same_url_differ(self):
        srv, c = self.start()
        a = c.create_session("same.bin")
        b = c.create_session("same.bin")
        self.assert_ok(a)
        self.assert_ok(b)
        self.assertNotEqual(a.headers["BITS-Session-Id"].upper(),
                            b.headers["BITS-Session-Id"].upper())

    def test_protocol_negotiation(self):
        srv, c = self.start()
        unknown = "{00000000-1111-2222-3333-444444444444}"
        accepted = {
            "upper-case GUID": BITS_PROTOCOL_GUID.upper(),
            "unknown first, space separated": f"{unknown} {BITS_PROTOCOL_GUID}",
            "unknown first, comma separated": f"{unknown},{BITS_PROTOCOL_GUID}",
        }
        for label, value in accepted.items():
            with self.subTest(label):
                r = c.create_session("neg.bin", protocols=value)
                self.assert_ok(r, msg=f"\nBITS-Supported-Protocols: {value}")
                self.assertEqual(r.headers.get("BITS-Protocol"), BITS_PROTOCOL_GUID, str(r))
        rejected = {"only an unknown GUID": unknown, "missing header": None,
                    "not a GUID": "hello"}
        for label, value in rejected.items():
            with self.subTest(label):
                r = c.create_session("neg.bin", protocols=value)
                self.assert_bits_error(r, 400, E_INVALIDARG,
                                       msg=f"\nBITS-Supported-Protocols: {value}")
                self.assertNotIn("BITS-Protocol", r.headers, str(r))

    def test_packet_type_case_insensitive(self):
        srv, c = self.start()
        for pt in ("create-session", "CREATE-SESSION", "CreatE-SEssION"):
            with self.subTest(pt):
                r = c.bits(pt, "case.bin",
                           headers=[("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)])
                self.assert_ok(r, msg=f"\npacket type {pt}")
                sid = r.headers["BITS-Session-Id"]
                r = c.bits("FRAGMENT", "case.bin", sid,
                           headers=[("Content-Range", "bytes 0-0/1")], body=b"x")
                self.assert_ok(r, sid)
                self.assert_received(r, 1)
                self.assert_ok(c.bits("close-session", "case.bin", sid), sid)
                os.remove(srv.file_path("case.bin"))
        self.assert_ok(c.bits("PING", "case.bin"))

    def test_destination_exists_overwrite_off_403(self):
        srv, c = self.start()
        os.makedirs(srv.files_dir, exist_ok=True)
        path = srv.file_path("exists.bin")
        with open(path, "wb") as f:
            f.write(b"old content")
        r = c.create_session("exists.bin")
        self.assert_bits_error(r, 403, E_ACCESSDENIED)
        self.assertNotIn("BITS-Protocol", r.headers, str(r))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"old content")

    def test_destination_is_existing_directory_400(self):
        # /uploads/logs names a directory that exists under the destination: never a file
        # target, whatever allow_overwrites says, and the directory is left as it was.
        for overwrite in (False, True):
            with self.subTest(allow_overwrites=overwrite):
                srv, c = self.start(upload={"allow_overwrites": overwrite})
                os.makedirs(os.path.join(srv.files_dir, "logs", "inner"), exist_ok=True)
                r = c.create_session("logs")
                self.assert_bits_error(r, 400, E_INVALIDARG)
                self.assertNotIn("BITS-Session-Id", r.headers, str(r))
                self.assertEqual(os.listdir(os.path.join(srv.files_dir, "logs")), ["inner"])
                srv.stop()

    def test_destination_that_cannot_be_a_file_400(self):
        # Refused at Create-Session, before a byte is uploaded: a commit could never succeed.
        srv, c = self.start()
        os.makedirs(srv.files_dir, exist_ok=True)
        with open(srv.file_path("a.txt"), "wb") as f:
            f.write(b"a file, not a directory")
        for label, name in [("a parent is a file", "a.txt/b.bin"),
                            ("a name over 255 bytes", "n" * 256),
                            ("a long name under a new directory", "new/" + "n" * 256)]:
            with self.subTest(label):
                r = c.create_session(name)
                self.assert_bits_error(r, 400, E_INVALIDARG, msg=f"\n{label}")
                self.assertNotIn("BITS-Session-Id", r.headers, str(r))
        self.assertEqual(sorted(os.listdir(srv.files_dir)), ["a.txt"])
        self.assert_ok(c.create_session("n" * 255))  # the longest name is fine

    def test_destination_exists_overwrite_on_replaces(self):
        srv, c = self.start(upload={"allow_overwrites": True})
        os.makedirs(srv.files_dir, exist_ok=True)
        path = srv.file_path("exists.bin")
        with open(path, "wb") as f:
            f.write(b"old content, longer than the new one")
        sid = c.new_session("exists.bin")
        new = b"new content"
        r = c.fragment(sid, new, 0, len(new), name="exists.bin")
        self.assert_ok(r, sid)
        self.assert_ok(c.close(sid, "exists.bin"), sid)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), new)


class FragmentTest(ProtocolTestBase):

    def test_fragment_in_order(self):
        srv, c = self.start()
        data = pseudo_random_bytes(10_000, 1)
        sid = c.new_session("f.bin")
        r = c.fragment(sid, data[:4000], 0, len(data), name="f.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 4000)
        self.assertNotIn("BITS-Reply-URL", r.headers, str(r))
        r = c.fragment(sid, data[4000:], 4000, len(data), name="f.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 10_000)
        self.assertNotIn("BITS-Reply-URL", r.headers, str(r))
        self.assert_ok(c.close(sid, "f.bin"), sid)
        with open(srv.file_path("f.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_fragment_unit_case_insensitive(self):
        srv, c = self.start()
        data = pseudo_random_bytes(300, 2)
        sid = c.new_session("u.bin")
        for first, unit in ((0, "bytes"), (100, "Bytes"), (200, "BYTES")):
            r = c.fragment(sid, data[first:first + 100], first, 300, name="u.bin",
                           content_range=f"{unit} {first}-{first + 99}/300")
            self.assert_ok(r, sid, f"\nunit {unit!r}")
            self.assert_received(r, first + 100)
        self.assert_ok(c.close(sid, "u.bin"), sid)
        with open(srv.file_path("u.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_fragment_gap_416(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 3)
        sid = c.new_session("g.bin")
        self.assert_ok(c.fragment(sid, data[:100], 0, 1000, name="g.bin"), sid)
        garbage = b"\xee" * 100
        r = c.fragment(sid, garbage, 200, 1000, name="g.bin")
        self.assert_ack(r, 416, sid)
        self.assert_received(r, 100)
        self.assert_no_error(r)
        # Nothing was written: the server still wants 100, and [100, 200) moves it to 200
        # (a sparse write at 200 would have made the stored length 300).
        r = c.fragment(sid, garbage, 500, 1000, name="g.bin")
        self.assert_ack(r, 416, sid)
        self.assert_received(r, 100)
        r = c.fragment(sid, data[100:200], 100, 1000, name="g.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 200)
        self.upload_all(c, sid, data, "g.bin", start=200)
        self.assert_ok(c.close(sid, "g.bin"), sid)
        with open(srv.file_path("g.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_fragment_partial_overlap_writes_only_tail(self):
        srv, c = self.start()
        data = pseudo_random_bytes(400, 4)
        sid = c.new_session("o.bin")
        self.assert_ok(c.fragment(sid, data[:100], 0, 400, name="o.bin"), sid)
        # [50, 150): the first 50 bytes are different from what is stored; only [100, 150)
        # may be written.
        body = b"\xaa" * 50 + data[100:150]
        r = c.fragment(sid, body, 50, 400, name="o.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 150)
        self.upload_all(c, sid, data, "o.bin", start=150)
        self.assert_ok(c.close(sid, "o.bin"), sid)
        with open(srv.file_path("o.bin"), "rb") as f:
            got = f.read()
        self.assertEqual(got[50:100], data[50:100], "stored bytes were overwritten")
        self.assertEqual(got, data)

    def test_fragment_full_duplicate_writes_nothing(self):
        srv, c = self.start()
        data = pseudo_random_bytes(300, 5)
        sid = c.new_session("d.bin")
        self.assert_ok(c.fragment(sid, data[:100], 0, 300, name="d.bin"), sid)
        for first, n in ((10, 40), (0, 100), (99, 1)):
            r = c.fragment(sid, b"\x55" * n, first, 300, name="d.bin")
            self.assert_ok(r, sid, f"\nduplicate [{first}, {first + n})")
            self.assert_received(r, 100)
        self.upload_all(c, sid, data, "d.bin", start=100)
        # The final fragment again, after completion: same Ack.
        r = c.fragment(sid, data[200:], 200, 300, name="d.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 300)
        self.assert_ok(c.close(sid, "d.bin"), sid)
        with open(srv.file_path("d.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def _assert_nothing_stored_after(self, c, sid, data, name, expected_offset):
        """A correct fragment at the expected offset is accepted: the bad ones changed nothing."""
        n = min(50, len(data) - expected_offset)
        r = c.fragment(sid, data[expected_offset:expected_offset + n], expected_offset,
                       len(data), name=name)
        self.assert_ok(r, sid, "\n(the session must survive a rejected fragment)")
        self.assert_received(r, expected_offset + n)

    def test_fragment_bad_range_400(self):
        srv, c = self.start()
        data = pseudo_random_bytes(100, 6)
        sid = c.new_session("r.bin")
        cases = [
            ("last < first", "bytes 10-9/100", b""),
            ("last >= total", "bytes 0-100/100", b"z" * 101),
            ("first >= total", "bytes 100-109/100", b"z" * 10),
            ("no total", "bytes 0-9", b"z" * 10),
            ("no unit", "0-9/100", b"z" * 10),
            ("'=' form", "bytes=0-9/100", b"z" * 10),
            ("other unit", "items 0-9/100", b"z" * 10),
            ("not numbers", "bytes a-j/100", b"z" * 10),
            ("negative first", "bytes -1-9/100", b"z" * 11),
            ("empty", "", b"z" * 10),
            ("total 0", "bytes 0-9/0", b"z" * 10),
        ]
        for label, cr, body in cases:
            with self.subTest(label):
                c.reset()
                r = c.fragment(sid, body, 0, 100, name="r.bin", content_range=cr)
                self.assert_bits_error(r, 400, E_INVALIDARG, sid,
                                       f"\nContent-Range: {cr!r}")
        c.reset()
        self._assert_nothing_stored_after(c, sid, data, "r.bin", 0)

    def test_fragment_total_change_400(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 7)
        sid = c.new_session("t.bin")
        self.assert_ok(c.fragment(sid, data[:100], 0, 1000, name="t.bin"), sid)
        r = c.fragment(sid, data[100:200], 100, 2000, name="t.bin")
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        r = c.fragment(sid, data[100:200], 100, 999, name="t.bin")
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        self._assert_nothing_stored_after(c, sid, data, "t.bin", 100)

    def test_fragment_content_length_mismatch_400(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 8)
        sid = c.new_session("l.bin")
        for label, body in (("shorter body", data[:50]), ("longer body", data[:150])):
            with self.subTest(label):
                c.reset()
                r = c.fragment(sid, body, 0, 1000, name="l.bin",
                               content_range="bytes 0-99/1000")
                self.assert_bits_error(r, 400, E_INVALIDARG, sid,
                                       f"\nContent-Range 0-99 with {len(body)} bytes")
        c.reset()
        self._assert_nothing_stored_after(c, sid, data, "l.bin", 0)

    def test_fragment_star_total_400(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 9)
        sid = c.new_session("s.bin")
        r = c.fragment(sid, data[:100], 0, 1000, name="s.bin", content_range="bytes 0-99/*")
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        c.reset()
        self._assert_nothing_stored_after(c, sid, data, "s.bin", 0)

    def test_fragment_missing_content_range_400(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 10)
        sid = c.new_session("m.bin")
        r = c.bits("Fragment", "m.bin", sid, body=data[:100])
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        c.reset()
        self._assert_nothing_stored_after(c, sid, data, "m.bin", 0)

    def test_fragment_missing_session_id_400(self):
        srv, c = self.start()
        r = c.bits("Fragment", "x.bin", headers=[("Content-Range", "bytes 0-9/10")],
                   body=b"0123456789")
        self.assert_bits_error(r, 400, E_INVALIDARG)
        for pt in ("Close-Session", "Cancel-Session"):
            with self.subTest(pt):
                self.assert_bits_error(c.bits(pt, "x.bin"), 400, E_INVALIDARG)

    def test_fragment_too_large_413_before_body(self):
        limit = 64 * KIB
        srv, c = self.start(max_fragment_size=limit)
        data = pseudo_random_bytes(4 * limit, 11)
        sid = c.new_session("big.bin")
        conn = self.raw(srv, timeout=10)
        n = limit + 1
        head = build_head("BITS_POST", "/uploads/big.bin", [
            ("Host", f"127.0.0.1:{srv.port}"),
            ("BITS-Packet-Type", "Fragment"),
            ("BITS-Session-Id", sid),
            ("Content-Range", f"bytes 0-{n - 1}/{len(data)}"),
            ("Content-Length", str(n)),
        ])
        conn.send(head)  # headers only: the answer must come without the body
        try:
            r = conn.read_response()
        except socket.timeout:
            self.fail("no response to an oversized fragment within 10 s of its headers: "
                      "bitsd waits for the body instead of answering 413")
        self.assert_ack(r, 413, sid)
        # The session is intact and a fragment of exactly max_fragment_size is accepted.
        r = c.fragment(sid, data[:limit], 0, len(data), name="big.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, limit)

    def test_fragment_too_large_413_via_client(self):
        # The same through the ordinary client, body sent right behind the headers: the
        # client must still get the 413 (the server may close the connection afterwards).
        limit = 64 * KIB
        srv, c = self.start(max_fragment_size=limit)
        sid = c.new_session("big2.bin")
        body = pseudo_random_bytes(2 * limit, 12)
        r = c.fragment(sid, body, 0, len(body), name="big2.bin")
        self.assert_ack(r, 413, sid)
        self.assert_server_serves(srv, c)

    def test_total_over_max_upload_size_500(self):
        srv, c = self.start(upload={"max_upload_size": 1000})
        data = pseudo_random_bytes(1001, 13)
        sid = c.new_session("max.bin")
        r = c.fragment(sid, data[:100], 0, 1001, name="max.bin")
        self.assert_bits_error(r, 500, BG_E_TOO_LARGE, sid)
        # Exactly the limit is fine.
        sid = c.new_session("max2.bin")
        self.upload_all(c, sid, data[:1000], "max2.bin", step=400)
        self.assert_ok(c.close(sid, "max2.bin"), sid)
        self.assertEqual(os.path.getsize(srv.file_path("max2.bin")), 1000)

    @staticmethod
    def _expect_continue_head(srv, sid, name, data, version):
        """The header of a whole-file Fragment that asks for 100 Continue."""
        return build_head("BITS_POST", f"/uploads/{name}", [
            ("Host", f"127.0.0.1:{srv.port}"),
            ("BITS-Packet-Type", "Fragment"),
            ("BITS-Session-Id", sid),
            ("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}"),
            ("Content-Length", str(len(data))),
            ("Expect", "100-continue"),
        ], version=version)

    def test_expect_100_continue(self):
        srv, c = self.start()
        data = pseudo_random_bytes(5000, 14)
        sid = c.new_session("e.bin")
        conn = self.raw(srv, timeout=10)
        conn.send(self._expect_continue_head(srv, sid, "e.bin", data, "HTTP/1.1"))
        try:
            interim = conn.read_response(allow_interim=True)
        except socket.timeout:
            self.fail("no '100 Continue' within 10 s of a Fragment with Expect: 100-continue")
        self.assertEqual(interim.status, 100, f"expected 100 Continue first, got:\n{interim}")
        conn.send(data)
        r = conn.read_response()
        self.assert_ok(r, sid)
        self.assert_received(r, len(data))
        self.assert_ok(c.close(sid, "e.bin"), sid)
        with open(srv.file_path("e.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_no_100_continue_for_http_1_0(self):
        # RFC 7231 5.1.1: never a 100 Continue to an HTTP/1.0 client; the body is read anyway.
        srv, c = self.start()
        data = pseudo_random_bytes(5000, 15)
        sid = c.new_session("e10.bin")
        conn = self.raw(srv, timeout=10)
        conn.send(self._expect_continue_head(srv, sid, "e10.bin", data, "HTTP/1.0") + data)
        r = conn.read_response(allow_interim=True)
        self.assertEqual(r.status, 200, f"expected the final answer, not an interim one:\n{r}")
        self.assert_received(r, len(data))


class CloseCancelTest(ProtocolTestBase):

    def test_close_commits(self):
        srv, c = self.start()
        data = pseudo_random_bytes(777, 20)
        sid = c.new_session("c.bin")
        self.upload_all(c, sid, data, "c.bin", step=300)
        self.assertFalse(os.path.exists(srv.file_path("c.bin")),
                         "file must not appear before Close-Session")
        r = c.close(sid, "c.bin")
        self.assert_ok(r, sid)
        with open(srv.file_path("c.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_close_repeated_200(self):
        srv, c = self.start()
        sid = c.new_session("c2.bin")
        self.upload_all(c, sid, b"hello", "c2.bin")
        self.assert_ok(c.close(sid, "c2.bin"), sid)
        c.reset()
        self.assert_ok(c.close(sid, "c2.bin"), sid, "\nrepeated Close-Session")
        self.assert_ok(c.close(sid, "c2.bin"), sid, "\nthird Close-Session")
        with open(srv.file_path("c2.bin"), "rb") as f:
            self.assertEqual(f.read(), b"hello")

    def test_close_before_all_bytes_400_keeps_bytes(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 21)
        sid = c.new_session("p2.bin")
        self.assert_ok(c.fragment(sid, data[:600], 0, 1000, name="p2.bin"), sid)
        r = c.close(sid, "p2.bin")
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        self.assertFalse(os.path.exists(srv.file_path("p2.bin")), "partial file committed")
        # The bytes are kept: the upload continues at 600 and closes later.
        r = c.fragment(sid, data[600:], 600, 1000, name="p2.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 1000)
        self.assert_ok(c.close(sid, "p2.bin"), sid)
        with open(srv.file_path("p2.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_close_after_create_without_fragment_commits_empty_file(self):
        srv, c = self.start()
        sid = c.new_session("empty.bin")
        self.assert_ok(c.close(sid, "empty.bin"), sid)
        path = srv.file_path("empty.bin")
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(os.path.getsize(path), 0)

    def test_cancel(self):
        srv, c = self.start()
        data = pseudo_random_bytes(1000, 22)
        sid = c.new_session("x.bin")
        self.assert_ok(c.fragment(sid, data[:500], 0, 1000, name="x.bin"), sid)
        r = c.cancel(sid, "x.bin")
        self.assert_ok(r, sid)
        r = c.fragment(sid, data[500:], 500, 1000, name="x.bin")
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid)
        r = c.fragment(sid, data[:500], 0, 1000, name="x.bin")
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assertFalse(os.path.exists(srv.file_path("x.bin")))
        # Decisions: Cancel of a recently cancelled or closed session -> 200.
        self.assert_ok(c.cancel(sid, "x.bin"), sid, "\nrepeated Cancel-Session")
        # The name is free again.
        sid2 = c.new_session("x.bin")
        self.assertNotEqual(sid2.upper(), sid.upper())

    def test_cancel_after_close_200_keeps_file(self):
        srv, c = self.start()
        sid = c.new_session("k.bin")
        self.upload_all(c, sid, b"kept", "k.bin")
        self.assert_ok(c.close(sid, "k.bin"), sid)
        self.assert_ok(c.cancel(sid, "k.bin"), sid)
        with open(srv.file_path("k.bin"), "rb") as f:
            self.assertEqual(f.read(), b"kept")

    def test_unknown_session_fragment_500(self):
        srv, c = self.start()
        ghost = "{01234567-89AB-CDEF-0123-456789ABCDEF}"
        r = c.fragment(ghost, b"abc", 0, 3, name="g.bin")
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, ghost)

    def test_unknown_session_close_500(self):
        srv, c = self.start()
        ghost = "{01234567-89AB-CDEF-0123-456789ABCDEF}"
        r = c.close(ghost, "g.bin")
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, ghost)
        self.assertFalse(os.path.exists(srv.file_path("g.bin")))

    def test_unknown_session_cancel_500(self):
        srv, c = self.start()
        ghost = "{01234567-89AB-CDEF-0123-456789ABCDEF}"
        r = c.cancel(ghost, "g.bin")
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, ghost)

    def test_session_id_malformed(self):
        srv, c = self.start()
        for ghost in ("not-a-guid", "{A0FF5911-4144-45B3-BF27-27AFC8EC8A67}/../x", "{}"):
            with self.subTest(ghost):
                r = c.fragment(ghost, b"abc", 0, 3, name="g.bin")
                self.assertIn(r.status, (400, 500), str(r))
                self.assert_ack(r, r.status)
                self.assertIn(r.headers.get("BITS-Error-Code"),
                              (E_INVALIDARG, BG_E_SESSION_NOT_FOUND), str(r))

    def test_session_id_lookup_case_insensitive(self):
        srv, c = self.start()
        sid = c.new_session("ci.bin")
        lower = sid.lower()
        r = c.fragment(lower, b"abcdef", 0, 6, name="ci.bin")
        self.assert_ok(r, lower)
        self.assert_received(r, 6)
        self.assert_ok(c.close(lower, "ci.bin"), lower)
        with open(srv.file_path("ci.bin"), "rb") as f:
            self.assertEqual(f.read(), b"abcdef")


class RequestValidationTest(ProtocolTestBase):

    def _tree_outside(self, srv):
        """Every path under the temp root except the data dir and the destination dir."""
        out = set()
        for dirpath, dirnames, filenames in os.walk(srv.root):
            for d in list(dirnames):
                p = os.path.join(dirpath, d)
                if p in (srv.data_dir, srv.files_dir):
                    dirnames.remove(d)
                    continue
                out.add(p)
            for fn in filenames:
                out.add(os.path.join(dirpath, fn))
        return out

    def test_path_traversal_400(self):
        srv, c = self.start()
        os.makedirs(srv.files_dir, exist_ok=True)
        before = self._tree_outside(srv)
        files_before = sorted(os.listdir(srv.files_dir))
        passwd_stat = os.stat("/etc/passwd")
        targets = [
            "/uploads/../x",
            "/uploads/%2e%2e/x",
            "/uploads/%2E%2E/x",
            "/uploads/a%2fb/../../x",
            "/uploads/a/../../x",
            "/uploads/..%2fx",
            "/uploads/%2e%2e%2fx",
            "/uploads/..%5cx",
            "/uploads/%5c..%5cx",
            "/uploads/a%5cb",
            "/uploads/x%00.bin",
            "/uploads/x%00/../../y",
            "/uploads//etc/passwd",
            "/uploads/..",
        ]
        for t in targets:
            with self.subTest(t):
                c.reset()
                r = c.create_session(t)
                if r.status == 200 and "BITS-Session-Id" in r.headers:
                    c.cancel(r.headers["BITS-Session-Id"], t)  # never let it go further
                self.assert_bits_error(r, 400, E_INVALIDARG, msg=f"\ntarget {t}")
        self.assertEqual(self._tree_outside(srv), before,
                         "something was created outside destination_dir and data_dir")
        self.assertEqual(sorted(os.listdir(srv.files_dir)), files_before)
        self.assertEqual(os.stat("/etc/passwd").st_mtime_ns, passwd_stat.st_mtime_ns)
        self.assertFalse(os.path.exists(os.path.join(srv.root, "x")))
        self.assert_server_serves(srv, c)

    def test_target_ending_in_slash_400(self):
        srv, c = self.start()
        for t in ("/uploads/dir/", "/uploads/", "/uploads/a/b/"):
            with self.subTest(t):
                r = c.create_session(t)
                self.assert_bits_error(r, 400, E_INVALIDARG, msg=f"\ntarget {t}")

    def test_other_method_405(self):
        srv, c = self.start()
        cases = [
            ("GET", [], b""),
            ("POST", [("BITS-Packet-Type", "Ping")], b""),
            ("PUT", [], b"some body"),
            ("DELETE", [], b""),
            ("OPTIONS", [], b""),
            ("HEAD", [], b""),
        ]
        for method, headers, body in cases:
            with self.subTest(method):
                c.reset()
                r = c.request(method, "/uploads/x.bin", headers, body)
                # Not a BITS packet, so no Ack is required; an empty 405.
                self.assert_plain_http(r, 405, msg=f"\n{method} /uploads/x.bin")
        self.assert_server_serves(srv, c)
        self.assertFalse(os.path.exists(srv.file_path("x.bin")))

    def test_routing_errors_echo_the_session_id(self):
        # "BITS-Session-Id echoed on every Ack to a request that carried one (errors included)".
        srv, c = self.start()
        sid = c.new_session("echo.bin")
        for label, target in [("outside every prefix", "/other/echo.bin"),
                              ("a traversal", "/uploads/%2e%2e/echo.bin"),
                              ("a directory URL", "/uploads/dir/")]:
            with self.subTest(label):
                r = c.request("BITS_POST", target, [("BITS-Packet-Type", "Fragment"),
                                                    ("BITS-Session-Id", sid),
                                                    ("Content-Range", "bytes 0-0/1")], b"x")
                self.assertIn(r.status, (400, 404), str(r))
                self.assertEqual(r.headers.get("BITS-Packet-Type"), "Ack", str(r))
                self.assertEqual(r.headers.get("BITS-Session-Id"), sid, str(r))

    def test_outside_prefix_404(self):
        srv, c = self.start()
        # GET / itself is the load balancer check (200: test_admin_e2e).
        cases = [
            ("GET", "/index.html", []),
            ("BITS_POST", "/other/x.bin", [("BITS-Packet-Type", "Ping")]),
            ("BITS_POST", "/other/x.bin", [("BITS-Packet-Type", "Create-Session"),
                                           ("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)]),
            ("BITS_POST", "/uploadsx/y.bin", [("BITS-Packet-Type", "Ping")]),
        ]
        for method, target, headers in cases:
            with self.subTest(f"{method} {target}"):
                c.reset()
                r = c.request(method, target, headers)
                if method == "BITS_POST":
                    # A BITS packet: its answer is an Ack like every other (sections 0 and 2:
                    # BITS-Packet-Type: Ack MUST be present in every response).
                    self.assert_ack(r, 404, msg=f"\n{method} {target}")
                else:
                    self.assert_plain_http(r, 404, msg=f"\n{method} {target}")
        self.assert_server_serves(srv, c)

    def test_unknown_or_missing_packet_type_400(self):
        srv, c = self.start()
        for pt in ("Bogus", "Create-Sessionx", "Ack", ""):
            with self.subTest(repr(pt)):
                c.reset()
                r = c.bits(pt, "x.bin")
                self.assert_bits_error(r, 400, E_INVALIDARG, msg=f"\npacket type {pt!r}")
        with self.subTest("missing"):
            r = c.request("BITS_POST", "/uploads/x.bin", [])
            self.assert_bits_error(r, 400, E_INVALIDARG)

    def test_ping(self):
        srv, c = self.start()
        r = c.ping("anything.bin")
        self.assert_ok(r)
        self.assertEqual(r.reason, "OK", str(r))
        self.assertNotIn("BITS-Protocol", r.headers, str(r))
        self.assertFalse(os.path.exists(srv.file_path("anything.bin")))
        # On a keep-alive connection, several in a row.
        for _ in range(3):
            self.assert_ok(c.ping("anything.bin"))

    def test_ping_with_body_400(self):
        srv, c = self.start()
        r = c.ping(body=b"unexpected body")
        self.assert_bits_error(r, 400, E_INVALIDARG)

    def test_nonzero_content_length_on_create_close_cancel_400(self):
        srv, c = self.start()
        with self.subTest("Create-Session"):
            r = c.create_session("b.bin", body=b"body!")
            self.assert_bits_error(r, 400, E_INVALIDARG)
            self.assertNotIn("BITS-Protocol", r.headers)
        c.reset()
        sid = c.new_session("b.bin")
        self.assert_ok(c.fragment(sid, b"abc", 0, 3, name="b.bin"), sid)
        for pt in ("Close-Session", "Cancel-Session"):
            with self.subTest(pt):
                c.reset()
                r = c.bits(pt, "b.bin", sid, body=b"body!")
                self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        c.reset()
        # Neither the Close nor the Cancel with a body took effect.
        self.assertFalse(os.path.exists(srv.file_path("b.bin")))
        self.assert_ok(c.close(sid, "b.bin"), sid)
        with open(srv.file_path("b.bin"), "rb") as f:
            self.assertEqual(f.read(), b"abc")

    def test_missing_content_length_is_an_empty_body(self):
        # RFC 9112 6.3: no Content-Length and no Transfer-Encoding means an empty request body.
        # Only a Fragment must state its length (see test_hardening_protocol_e2e for an upload).
        srv, c = self.start()
        for label, pt, extra in (
                ("Ping", "Ping", []),
                ("Create-Session", "Create-Session",
                 [("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)])):
            with self.subTest(label):
                c.reset()
                r = c.bits(pt, "n.bin", headers=extra, content_length=None)
                self.assert_ok(r)
        with self.subTest("Close-Session"):
            c.reset()
            sid = c.new_session("n.bin")
            r = c.bits("Close-Session", "n.bin", sid, content_length=None)
            self.assert_ok(r, sid)
        with self.subTest("Fragment"):
            c.reset()
            sid = c.new_session("f.bin")
            r = c.bits("Fragment", "f.bin", sid, content_length=None,
                       headers=[("Content-Range", "bytes 0-0/1")])
            self.assert_bits_error(r, 400, E_INVALIDARG, sid)

    def test_header_value_over_4096_400(self):
        srv, c = self.start()
        with self.subTest("4096 bytes is allowed"):
            r = c.ping(headers=[("X-Filler", "a" * 4096)])
            self.assert_ok(r)
        for n in (4097, 6000, 16384):
            with self.subTest(f"unknown header, {n} bytes"):
                c.reset()
                r = c.ping(headers=[("X-Filler", "a" * n)])
                self.assert_bits_error(r, 400, E_INVALIDARG)
        with self.subTest("Content-Name, 5000 bytes"):
            c.reset()
            r = c.create_session("h.bin", headers=[("Content-Name", "n" * 5000)])
            self.assert_bits_error(r, 400, E_INVALIDARG)
        self.assert_server_serves(srv, c)

    def test_http10_keep_alive(self):
        srv, c = self.start()
        conn = self.raw(srv)

        def req(headers):
            head = build_head("BITS_POST", "/uploads/ab.bin", [
                ("Host", f"127.0.0.1:{srv.port}"),
                ("User-Agent", "ApacheBench/2.3"),
                ("Accept", "*/*"),
                ("Connection", "Keep-Alive")] + headers, version="HTTP/1.0")
            conn.send(head)
            return conn.read_response()

        ping = [("BITS-Packet-Type", "Ping"), ("Content-Length", "0")]
        for i in range(3):
            try:
                r = req(ping)
            except (ConnectionError, OSError) as e:
                self.fail(f"HTTP/1.0 keep-alive connection not kept open for request "
                          f"#{i + 1}: {e!r}")
            self.assert_ok(r, msg=f"\nHTTP/1.0 keep-alive Ping #{i + 1}")
            self.assertIn("keep-alive", (r.headers.get("Connection") or "").lower(),
                          f"an HTTP/1.0 keep-alive answer must say Connection: keep-alive"
                          f"\n{r}")
        r = req([("BITS-Packet-Type", "Create-Session"),
                 ("BITS-Supported-Protocols", BITS_PROTOCOL_GUID), ("Content-Length", "0")])
        self.assert_ok(r)
        self.assertRegex(r.headers.get("BITS-Session-Id") or "", SESSION_ID_RE)

    def test_http10_without_keep_alive_closes(self):
        srv, c = self.start()
        conn = self.raw(srv)
        conn.send(build_head("BITS_POST", "/uploads/ab.bin", [
            ("Host", f"127.0.0.1:{srv.port}"), ("BITS-Packet-Type", "Ping"),
            ("Content-Length", "0")], version="HTTP/1.0"))
        r = conn.read_response()
        self.assert_ok(r)
        conn.settimeout(5)
        try:
            extra = conn.sock.recv(1)
        except socket.timeout:
            self.fail("HTTP/1.0 request without keep-alive: connection left open")
        self.assertEqual(extra, b"")


class IsolationTest(ProtocolTestBase):

    def test_bad_inputs_leave_other_sessions_untouched(self):
        limit = 256 * KIB
        srv, c = self.start(max_fragment_size=limit, upload={"max_upload_size": 8 << 20})
        data = pseudo_random_bytes(600 * KIB, 30)
        total = len(data)
        sid = c.new_session("a.bin")
        acked = 0
        for _ in range(3):
            r = c.fragment(sid, data[acked:acked + 100 * KIB], acked, total, name="a.bin")
            self.assert_ok(r, sid)
            acked = r.received()
        self.assertEqual(acked, 300 * KIB)

        def fresh():
            cl = BitsClient(srv)
            self.addCleanup(cl.reset)
            return cl

        # A second session B that gets cancelled, and a third C that is closed.
        b = fresh()
        sid_b = b.new_session("b.bin")
        b.fragment(sid_b, b"bbbb", 0, 8, name="b.bin")
        sid_c = b.new_session("c.bin")

        garbage = b"\xde\xad" * 1000
        ghost = "{01234567-89AB-CDEF-0123-456789ABCDEF}"
        x = fresh()
        a = "a.bin"
        # (expected status or None when several are defensible, label, request)
        bad = [
            # Against session A itself: none of these may write a byte.
            (416, "gap", lambda: x.fragment(sid, garbage, acked + 1000, total, name=a)),
            (200, "duplicate of stored bytes, different content",
             lambda: x.fragment(sid, garbage, 0, total, name=a)),
            (400, "total changed", lambda: x.fragment(sid, garbage, acked, total + 1, name=a)),
            (400, "Content-Length != range", lambda: x.fragment(
                sid, garbage, acked, total, name=a,
                content_range=f"bytes {acked}-{acked + 99}/{total}")),
            (400, "star total", lambda: x.fragment(
                sid, garbage, acked, total, name=a,
                content_range=f"bytes {acked}-{acked + len(garbage) - 1}/*")),
            (400, "last < first", lambda: x.fragment(
                sid, b"", acked, total, name=a,
                content_range=f"bytes {acked + 5}-{acked}/{total}")),
            (400, "no Content-Range", lambda: x.bits("Fragment", a, sid, body=garbage)),
            (None, "over max_upload_size and total changed",
             lambda: x.fragment(sid, garbage, acked, 10 << 20, name=a)),
            (None, "over max_fragment_size (413; the connection may be dropped)",
             lambda: x.fragment(sid, b"\xde" * (limit + 1), acked, total, name=a)),
            (400, "early Close", lambda: x.close(sid, a)),
            (400, "Close with a body", lambda: x.bits("Close-Session", a, sid, body=b"zz")),
            (400, "Cancel with a body", lambda: x.bits("Cancel-Session", a, sid, body=b"zz")),
            (400, "unknown packet type", lambda: x.bits("Bogus", a, sid)),
            (400, "Fragment without Content-Length", lambda: x.bits(
                "Fragment", a, sid, content_length=None,
                headers=[("Content-Range", f"bytes {acked}-{acked}/{total}")])),
            (400, "5000-byte header", lambda: x.fragment(
                sid, garbage, acked, total, name=a, headers=[("X-Filler", "f" * 5000)])),
            # Other sessions and no session.
            (500, "unknown session", lambda: x.fragment(ghost, garbage, acked, total, name=a)),
            (200, "cancel B", lambda: x.cancel(sid_b, "b.bin")),
            (500, "fragment to cancelled B", lambda: x.fragment(sid_b, garbage[:4], 4, 8,
                                                               name="b.bin")),
            (200, "close C", lambda: x.close(sid_c, "c.bin")),
            (200, "close C again", lambda: x.close(sid_c, "c.bin")),
            (None, "fragment to closed C", lambda: x.fragment(sid_c, garbage, 0, 2000,
                                                             name="c.bin")),
            (400, "traversal ..", lambda: x.create_session("../a.bin")),
            (400, "traversal %2e%2e", lambda: x.create_session("%2e%2e/a.bin")),
            (400, "NUL", lambda: x.create_session("a%00.bin")),
            (400, "directory", lambda: x.create_session("dir/")),
            (400, "no common protocol", lambda: x.create_session(
                a, protocols="{00000000-0000-0000-0000-000000000000}")),
            (405, "GET", lambda: x.request("GET", "/uploads/a.bin")),
            (200, "GET / (the load balancer check)", lambda: x.request("GET", "/")),
            (405, "PUT", lambda: x.request("PUT", "/uploads/a.bin", body=garbage)),
            (400, "Ping with a body", lambda: x.ping(body=b"x")),
            (200, "Ping without Content-Length (an empty body)",
             lambda: x.ping(content_length=None)),
        ]
        for i, (expected, label, send) in enumerate(bad):
            with self.subTest(f"bad input #{i}: {label}"):
                x.reset()
                try:
                    r = send()
                except (OSError, ProtocolError) as e:
                    if expected is not None:
                        self.fail(f"{label}: connection error instead of {expected}: {e!r}")
                    continue
                if expected is not None:
                    self.assertEqual(r.status, expected, f"{label}\n{r}")
        x.reset()

        # Raw junk on sockets: not HTTP at all, truncated heads, a half body (of the right
        # bytes: what a real client would send before losing its connection), bad framing.
        junk = [
            b"\x00\x01\x02 garbage\r\n\r\n",
            b"BITS_POST /uploads/a.bin HTTP/1.1\r\nBITS-Packet-Type: Fragment\r\n",
            (build_head("BITS_POST", "/uploads/a.bin", [
                ("Host", "x"), ("BITS-Packet-Type", "Fragment"), ("BITS-Session-Id", sid),
                ("Content-Range", f"bytes {acked}-{acked + 9999}/{total}"),
                ("Content-Length", "10000")]) + data[acked:acked + 3000]),
            b"BITS_POST /uploads/a.bin HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            b"BITS_POST /uploads/a.bin HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"BITS_POST /uploads/a.bin HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
            b"BITS-Packet-Type: Ping\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"BITS_POST /uploads/a.bin HTTP/9.9\r\n\r\n",
            b"\r\n\r\n\r\n",
        ]
        for i, blob in enumerate(junk):
            with self.subTest(f"junk #{i}"):
                conn = self.raw(srv, timeout=5)
                conn.send(blob)
                time.sleep(0.05)
                conn.close()

        srv.assert_alive()
        # Session A continues from its acknowledged offset (the half body above may have added
        # up to 3000 correct bytes, which the next fragment overlaps) and commits byte-exact:
        # none of the bad inputs wrote a byte.
        c.reset()
        r = c.fragment(sid, data[acked:acked + 100 * KIB], acked, total, name="a.bin")
        self.assert_ok(r, sid, "\nsession A after the bad inputs")
        self.assert_received(r, acked + 100 * KIB)
        acked += 100 * KIB
        self.upload_all(c, sid, data, "a.bin", start=acked, step=100 * KIB)
        self.assert_ok(c.close(sid, "a.bin"), sid)
        with open(srv.file_path("a.bin"), "rb") as f:
            self.assertEqual(f.read(), data, "session A's file is not byte-exact")
        # Session B was cancelled: no file. Session C was closed without fragments: empty file.
        self.assertFalse(os.path.exists(srv.file_path("b.bin")))
        self.assertEqual(os.path.getsize(srv.file_path("c.bin")), 0)


if __name__ == "__main__":
    unittest.main()
