"""Session ownership and max_sessions_per_user (issue 9, item 3).

Without authentication a session belongs to the client address that created it (an IPv6 client
to its /64). Any other client gets exactly the answer for an unknown session, on every packet
that names it: 500 + 0x8020001F (Fragment, Close-Session, Cancel-Session), with the same
headers as for an id that never existed, and the session is untouched.

`max_sessions_per_user` on an upload prefix caps the open sessions of one principal there:
403 + 0x80070005 at Create-Session (fatal for the Windows job, as IIS's
BITSNumberOfSessionsLimit); Close-Session or Cancel-Session gives a place back.
"""

import unittest

from bitsd_harness import (
    E_ACCESSDENIED, BG_E_SESSION_NOT_FOUND, KIB, PatternSource, ServerTestCase,
)
from test_limits_e2e import BoundClient

UNKNOWN = "{00000000-1111-2222-3333-444444444444}"


def shape(r):
    """What a client can observe of an answer, apart from the echoed session id."""
    return (r.status, sorted((k.lower(), v) for k, v in r.headers.items()
                             if k.lower() not in ("bits-session-id", "date")))


class OwnershipTest(ServerTestCase):

    def test_another_client_cannot_see_or_touch_a_session(self):
        srv, owner = self.start()
        data = PatternSource(64 * KIB, 5)
        sid = owner.new_session("mine.bin")
        self.assert_ok(owner.fragment(sid, data, 0, data.size, "mine.bin", n=32 * KIB))
        thief = BoundClient(srv, "127.0.3.1")
        self.addCleanup(thief.reset)
        attempts = {
            "Fragment": lambda s: thief.fragment(s, data, 32 * KIB, data.size, "mine.bin", n=32 * KIB),
            "Close-Session": lambda s: thief.close(s, "mine.bin"),
            "Cancel-Session": lambda s: thief.cancel(s, "mine.bin"),
        }
        for packet, send in attempts.items():
            r = send(sid)
            self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid, f" ({packet} of another client)")
            self.assertEqual(shape(r), shape(send(UNKNOWN)),
                             f"{packet}: another's session answers unlike an unknown one")
        # Untouched: the owner continues where it was and commits the whole file.
        r = owner.fragment(sid, data, 32 * KIB, data.size, "mine.bin", n=32 * KIB)
        self.assert_ok(r, sid)
        self.assert_received(r, data.size)
        self.assert_ok(owner.close(sid, "mine.bin"), sid)
        self.assert_file(srv.file_path("mine.bin"), data.sha256(), data.size)

    def test_a_closed_session_is_not_revealed_to_another_client(self):
        srv, owner = self.start()
        sid = owner.new_session("done.bin")
        self.assert_ok(owner.close(sid, "done.bin"), sid)
        thief = BoundClient(srv, "127.0.3.2")
        self.addCleanup(thief.reset)
        # The owner's repeated Close and Cancel answer 200 (tombstone); another client's do not.
        self.assert_bits_error(thief.close(sid, "done.bin"), 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assert_bits_error(thief.cancel(sid, "done.bin"), 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assert_ok(owner.close(sid, "done.bin"), sid)


class SessionsPerUserTest(ServerTestCase):

    def test_max_sessions_per_user_is_fatal_and_freed_by_close_or_cancel(self):
        srv, c = self.start(upload={"max_sessions_per_user": 2})
        first = c.new_session("a.bin")
        c.new_session("b.bin")
        r = c.create_session("c.bin")
        self.assert_bits_error(r, 403, E_ACCESSDENIED, msg=" (a third session of one user)")
        self.assertNotIn("Retry-After", r.headers)
        other = BoundClient(srv, "127.0.3.3")
        self.addCleanup(other.reset)
        self.assertEqual(other.create_session("o.bin").status, 200, "another user was refused")
        self.assert_ok(c.cancel(first, "a.bin"), first)
        c.new_session("c.bin")


if __name__ == "__main__":
    unittest.main()
