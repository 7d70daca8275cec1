"""Credentials files are read again on SIGHUP (issue 9, item 2; server/upload_service.cpp builds
the authenticators per configuration generation).

* A user added to the credentials file can upload after `kill -HUP`, without a restart; the
  users already there keep working.
* A credentials file that became unusable (here: a plaintext password in it) refuses the whole
  reload, with the logged reason naming uploads[0].auth.credentials_file; the users of the
  running configuration keep working, and the user of the broken file is not let in.
"""

import os
import shutil
import signal
import tempfile
import unittest

from bitsd_harness import KIB, PatternSource, ServerTestCase
from test_auth_e2e import AuthClient, basic, passwd
from test_reload_e2e import wait_for_log


class CredentialsReloadTest(ServerTestCase):

    def user_line(self, user, password):
        rc, line, err = passwd(user, password, "--method", "sha512")  # quicker than yescrypt
        self.assertEqual(rc, 0, err)
        return line

    def write_credentials(self, text):
        temp = self.credentials + ".new"
        with open(temp, "w") as f:
            f.write(text)
        os.replace(temp, self.credentials)  # as an editor or `install` would

    def sighup(self, srv):
        mark = len(srv.log_lines())
        os.kill(srv.pid, signal.SIGHUP)
        return wait_for_log(srv, r"configuration reloaded|reload refused", mark, timeout=30)

    def client(self, srv, user, password):
        c = AuthClient(srv, basic(user, password))
        self.addCleanup(c.reset)
        return c

    def test_a_user_added_to_the_file_works_after_sighup_and_a_broken_file_is_refused(self):
        folder = tempfile.mkdtemp(prefix="bitsd-creds-")
        self.addCleanup(shutil.rmtree, folder, True)
        self.credentials = os.path.join(folder, "users.passwd")
        alice = self.user_line("alice", "alice pass")
        self.write_credentials(alice)
        srv, _ = self.start(upload={"auth": {"type": "basic", "credentials_file": self.credentials,
                                             "realm": "BITS test", "allow_basic_without_tls": True}})
        self.assertEqual(self.client(srv, "alice", "alice pass").ping().status, 200)
        self.assertEqual(self.client(srv, "carol", "carol pass").ping().status, 401,
                         "carol is not in the file yet")

        # carol is added: after SIGHUP she uploads, without a restart; alice still works.
        pid = srv.pid
        self.write_credentials(alice + self.user_line("carol", "carol pass"))
        line = self.sighup(srv)
        self.assertIn("configuration reloaded", line, srv.log_text())
        self.assertEqual(srv.pid, pid, "the daemon restarted")
        carol = self.client(srv, "carol", "carol pass")
        data = PatternSource(64 * KIB, 3)
        result = carol.upload_file(data, "carol.bin", 32 * KIB)
        self.assert_ok(carol.close(result.session_id, "carol.bin"), result.session_id)
        self.assert_file(srv.file_path("carol.bin"), data.sha256(), data.size)
        self.assertEqual(self.client(srv, "alice", "alice pass").ping().status, 200)

        # A broken file (a plaintext password) refuses the reload, logged with the key; the
        # running users keep working and the new one is not let in.
        self.write_credentials(alice + self.user_line("carol", "carol pass") + "dave:plaintext\n")
        line = self.sighup(srv)
        self.assertIn("reload refused", line, srv.log_text())
        self.assertIn("uploads[0].auth.credentials_file", line)
        self.assertIn("running configuration stays in force", line)
        self.assertEqual(srv.pid, pid, "the daemon restarted")
        self.assertEqual(self.client(srv, "alice", "alice pass").ping().status, 200)
        self.assertEqual(self.client(srv, "carol", "carol pass").ping().status, 200)
        self.assertEqual(self.client(srv, "dave", "plaintext").ping().status, 401)

        # A credentials file that is gone is refused the same way.
        os.remove(self.credentials)
        line = self.sighup(srv)
        self.assertIn("reload refused", line, srv.log_text())
        self.assertIn("uploads[0].auth.credentials_file", line)
        self.assertEqual(self.client(srv, "alice", "alice pass").ping().status, 200)
        srv.assert_alive()


if __name__ == "__main__":
    unittest.main()
