"""`bitsd sessions list|show|cancel|purge` on a data directory (issue 8, item 8).

list and show only read: they work while a daemon runs. cancel and purge change sessions: they
need the data directory's lock and exit 3 while a daemon holds it. Exit codes: 0 ok, 2 usage,
3 data_dir in use, 4 no such session.
"""

import json
import os
import subprocess
import time
import unittest

from bitsd_harness import BitsAssertions, BitsClient, Server, bitsd_binary


class SessionsCliTest(BitsAssertions, unittest.TestCase):

    def setUp(self):
        self.srv = Server(self).start()
        self.client = BitsClient(self.srv)
        self.addCleanup(self.client.reset)

    def cli(self, *args, timeout=20):
        p = subprocess.run([bitsd_binary(), "sessions", "--config", self.srv.config_path, *args],
                           cwd=self.srv.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def make_sessions(self):
        """One receiving (3 of 10 bytes), one closed, one cancelled."""
        c = self.client
        receiving = c.new_session("part.bin")
        self.assert_ok(c.fragment(receiving, b"abc", 0, 10, "part.bin"))
        closed = c.new_session("done.bin")
        self.assert_ok(c.fragment(closed, b"xyz", 0, 3, "done.bin"))
        self.assert_ok(c.close(closed, "done.bin"), closed)
        cancelled = c.new_session("gone.bin")
        self.assert_ok(c.cancel(cancelled, "gone.bin"), cancelled)
        return receiving, closed, cancelled

    def test_list_and_show_while_the_daemon_runs(self):
        receiving, closed, cancelled = self.make_sessions()
        rc, out, err = self.cli("list")
        self.assertEqual(rc, 0, err)
        lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("{")}
        self.assertEqual(set(lines), {receiving, closed, cancelled}, out)
        self.assertRegex(lines[receiving], r"receiving\s+3/10\s+\d+s\s+\d+s\s+/uploads/\s+/uploads/part\.bin")
        self.assertRegex(lines[closed], r"closed\s+0/3")
        self.assertRegex(lines[cancelled], r"cancelled\s+0/\?")
        rc, out, err = self.cli("list", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual({s["id"] for s in json.loads(out)}, {receiving, closed, cancelled})
        rc, out, err = self.cli("show", receiving.lower())  # ids are case-insensitive
        self.assertEqual(rc, 0, err)
        shown = json.loads(out)
        self.assertEqual(shown["id"], receiving)
        self.assertEqual(shown["state"], "receiving")
        self.assertEqual(shown["received"], 3)
        self.assertEqual(shown["total"], 10)
        self.assertEqual(shown["target"], "/uploads/part.bin")
        self.assertEqual(shown["url_prefix"], "/uploads/")
        self.assertIn("age_s", shown)
        self.srv.assert_alive()

    def test_show_and_cancel_refuse_unknown_and_malformed_ids(self):
        unknown = "{00000000-0000-4000-8000-000000000000}"
        rc, _, err = self.cli("show", unknown)
        self.assertEqual(rc, 4, err)
        self.assertIn("no session", err)
        rc, _, err = self.cli("show", "not-an-id")
        self.assertEqual(rc, 2, err)
        self.assertIn("not a session id", err)
        rc, _, err = self.cli("frobnicate")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.cli("purge")
        self.assertEqual(rc, 2, err)
        self.assertIn("--older-than", err)
        rc, _, err = self.cli("purge", "--older-than", "5x")
        self.assertEqual(rc, 2, err)
        self.assertIn("--older-than", err)

    def test_cancel_and_purge_refuse_while_the_daemon_runs(self):
        receiving, _, _ = self.make_sessions()
        for args in (("cancel", receiving), ("purge", "--older-than", "0s")):
            rc, _, err = self.cli(*args)
            self.assertEqual(rc, 3, err)
            self.assertIn("in use by a running bitsd", err)
        # Nothing changed: the upload goes on.
        r = self.client.fragment(receiving, b"defghij", 3, 10, "part.bin")
        self.assert_ok(r, receiving)
        self.assert_received(r, 10)

    def test_cancel_and_purge_with_the_daemon_stopped(self):
        receiving, closed, cancelled = self.make_sessions()
        self.client.reset()
        self.assertEqual(self.srv.stop(), 0)
        rc, out, err = self.cli("cancel", receiving)
        self.assertEqual(rc, 0, err)
        self.assertIn("cancelled", out)
        rc, out, _ = self.cli("show", receiving)
        self.assertEqual(json.loads(out)["state"], "cancelled")
        rc, out, err = self.cli("cancel", closed)  # as Cancel-Session: the file stays
        self.assertEqual(rc, 0, err)
        self.assertIn("nothing to cancel", out)
        self.assertTrue(os.path.exists(self.srv.file_path("done.bin")))
        # Nothing is older than a day; --dry-run changes nothing.
        rc, out, err = self.cli("purge", "--older-than", "1d")
        self.assertEqual(rc, 0, err)
        self.assertIn("purged 0 of 3", out)
        rc, out, err = self.cli("purge", "--older-than", "0", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertIn("would purge 3 of 3", out)
        rc, out, _ = self.cli("list", "--json")
        self.assertEqual(len(json.loads(out)), 3)
        rc, out, err = self.cli("purge", "--older-than", "0s")
        self.assertEqual(rc, 0, err)
        self.assertIn("purged 3 of 3", out)
        rc, out, _ = self.cli("list", "--json")
        self.assertEqual(json.loads(out), [])
        self.assertTrue(os.path.exists(self.srv.file_path("done.bin")), "purge never touches files")
        # The daemon starts again on the purged data_dir; the cancelled session is unknown now.
        self.srv.start()
        self.client.reset()
        r = self.client.fragment(receiving, b"defghij", 3, 10, "part.bin")
        self.assertTrue(r.is_session_not_found(), str(r))

    def test_a_second_daemon_on_the_data_dir_exits_3(self):
        p = subprocess.run([bitsd_binary(), "--config", self.srv.config_path], cwd=self.srv.root,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        self.assertEqual(p.returncode, 3, p.stdout.decode())
        self.assertIn("data_dir", p.stdout.decode())
        self.srv.assert_alive()

    def test_an_empty_or_missing_data_dir_lists_nothing(self):
        self.srv.stop()
        rc, out, err = self.cli("--data-dir", os.path.join(self.srv.root, "nothing-here"), "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("0 sessions", out)
        self.assertFalse(os.path.exists(os.path.join(self.srv.root, "nothing-here")),
                         "list creates nothing")


if __name__ == "__main__":
    unittest.main()
