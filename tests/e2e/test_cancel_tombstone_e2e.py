"""Cancelled sessions cost no directory (issue 9, item 4: "cancelled sessions cost no directory
for 14 days").

A Cancel-Session frees the session's bytes and its whole directory at once; what bitsd still
needs to answer a repeated Cancel-Session with 200 (Decisions table: "200 if it was closed or
cancelled recently") is one line in an append-only journal beside the sessions
(<data_dir>/cancelled-sessions.journal). Every answer the protocol gives about a cancelled
session stays what it was: a repeated Cancel 200 (also after a restart), Fragment and
Close-Session 500 + 0x8020001F, and another client's Cancel the unknown-session answer.
"""

import os
import unittest

from bitsd_harness import BG_E_SESSION_NOT_FOUND, ServerTestCase
from test_limits_e2e import BoundClient

FLOOD = 200  # bounded: a few seconds on a loaded machine


def session_directories(data_dir):
    """Every directory below <data_dir>/sessions/<shard>/ (sessions and leftovers alike)."""
    root = os.path.join(data_dir, "sessions")
    found = []
    if not os.path.isdir(root):
        return found
    for shard in os.listdir(root):
        shard_path = os.path.join(root, shard)
        if os.path.isdir(shard_path):
            found += [os.path.join(shard_path, name) for name in os.listdir(shard_path)]
    return found


class CancelledSessionsCostNoDirectoryTest(ServerTestCase):

    def test_create_cancel_flood_leaves_no_session_directory(self):
        srv, c = self.start()
        sids = []
        for i in range(FLOOD):
            sid = c.new_session(f"flood-{i}.bin")
            self.assert_ok(c.cancel(sid, f"flood-{i}.bin"), sid)
            sids.append(sid)
        self.assertEqual(session_directories(srv.data_dir), [],
                         f"{FLOOD} Create+Cancel left session directories behind")
        # Every one is still remembered: a repeated Cancel (a lost Ack) answers 200.
        for i in (0, FLOOD // 2, FLOOD - 1):
            self.assert_ok(c.cancel(sids[i], f"flood-{i}.bin"), sids[i], "\nrepeated Cancel-Session")
        self.assertEqual(os.listdir(srv.files_dir) if os.path.isdir(srv.files_dir) else [], [])

    def test_answers_about_a_cancelled_session_are_unchanged_and_survive_a_restart(self):
        srv, c = self.start()
        sid = c.new_session("gone.bin")
        self.assert_ok(c.fragment(sid, b"x" * 500, 0, 1000, name="gone.bin"), sid)
        self.assert_ok(c.cancel(sid, "gone.bin"), sid)
        self.assertEqual(session_directories(srv.data_dir), [])

        def check(client, when):
            self.assert_ok(client.cancel(sid, "gone.bin"), sid, f"\nrepeated Cancel ({when})")
            self.assert_bits_error(client.fragment(sid, b"y" * 500, 500, 1000, name="gone.bin"),
                                   500, BG_E_SESSION_NOT_FOUND, sid, f" (Fragment, {when})")
            self.assert_bits_error(client.fragment(sid, b"y" * 500, 0, 1000, name="gone.bin"),
                                   500, BG_E_SESSION_NOT_FOUND, sid, f" (Fragment at 0, {when})")
            self.assert_bits_error(client.close(sid, "gone.bin"), 500, BG_E_SESSION_NOT_FOUND, sid,
                                   f" (Close-Session, {when})")
            # The tombstone belongs to its URL and its owner like the session did.
            self.assert_bits_error(client.cancel(sid, "other.bin"), 500, BG_E_SESSION_NOT_FOUND,
                                   sid, f" (Cancel on another URL, {when})")
            thief = BoundClient(srv, "127.0.3.9")
            self.addCleanup(thief.reset)
            self.assert_bits_error(thief.cancel(sid, "gone.bin"), 500, BG_E_SESSION_NOT_FOUND, sid,
                                   f" (another client's Cancel, {when})")

        check(c, "running")
        srv.restart()
        c.reset()
        check(c, "after a restart")
        srv.restart(crash=True)
        c.reset()
        check(c, "after a crash")
        self.assertEqual(session_directories(srv.data_dir), [])
        self.assertFalse(os.path.exists(srv.file_path("gone.bin")))


if __name__ == "__main__":
    unittest.main()
