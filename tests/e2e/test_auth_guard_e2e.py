"""What Basic authentication costs and what it remembers, and repeated authentication headers.

* limits.auth_failures_per_minute_per_client: once a client address has failed that many
  password checks in a minute, its next attempt gets 503 + 0x801901F7 + Retry-After (transient
  for Windows) without a password check; a credential verified before (remembered) still
  works from that address, and another address is not affected. Counted on /metrics.
* A verified credential is remembered for a short while (a repeated request computes no hash);
  after the credentials file changes and SIGHUP, the old password no longer passes, nor does a
  removed user.
* A request with two Authorization headers, or two trusted user headers, is refused with 400 +
  0x80070057 before any verification (a proxy that appends its header instead of replacing the
  client's must not let the client choose the user).
"""

import os
import shutil
import signal
import tempfile
import unittest

from bitsd_harness import E_INVALIDARG, NO_LIMITS, ServerTestCase
from test_admin_e2e import AdminClient, value_of
from test_auth_e2e import AuthClient, basic, passwd
from test_limits_e2e import SERVICE_UNAVAILABLE, BoundClient
from test_reload_e2e import wait_for_log


class BoundAuthClient(AuthClient, BoundClient):
    """An Authorization header on every request (AuthClient), from a chosen local address
    (BoundClient): BoundAuthClient(server, authorization, source=...)."""


def user_line(user, password, method="sha512"):
    rc, line, err = passwd(user, password, "--method", method)
    if rc != 0:
        raise AssertionError(err)
    return line


class BasicGuardTest(ServerTestCase):

    def start_basic(self, users, limit=None, upload=None):
        folder = tempfile.mkdtemp(prefix="bitsd-guard-")
        self.addCleanup(shutil.rmtree, folder, True)
        self.credentials = os.path.join(folder, "users.passwd")
        self.write_credentials(users)
        limits = dict(NO_LIMITS)
        if limit is not None:
            limits["auth_failures_per_minute_per_client"] = limit
        up = {"auth": {"type": "basic", "credentials_file": self.credentials, "realm": "R",
                       "allow_basic_without_tls": True}}
        up.update(upload or {})
        srv, _ = self.start(upload=up, extra={"limits": limits})
        return srv, AdminClient(srv.admin_port())

    def write_credentials(self, text):
        temp = self.credentials + ".new"
        with open(temp, "w") as f:
            f.write(text)
        os.replace(temp, self.credentials)

    def client(self, srv, authorization, source="127.0.0.1"):
        c = BoundAuthClient(srv, authorization, source=source)
        self.addCleanup(c.reset)
        return c

    def test_beyond_the_failure_limit_a_client_gets_503_without_a_password_check(self):
        srv, admin = self.start_basic(user_line("alice", "right") + user_line("bob", "bob pass"), limit=30)
        alice = self.client(srv, basic("alice", "right"), "127.0.5.1")
        self.assertEqual(alice.ping().status, 200)
        guesser = self.client(srv, None, "127.0.5.1")
        for i in range(30):
            r = guesser.ping(headers=[("Authorization", basic("alice", f"guess {i}"))])
            self.assertEqual(r.status, 401, f"failure {i + 1}: {r}")
        before = admin.metrics()
        for i in range(3):
            r = guesser.ping(headers=[("Authorization", basic("alice", f"more {i}"))])
            self.assert_bits_error(r, 503, SERVICE_UNAVAILABLE, msg=f" (failure {31 + i})")
            retry_after = r.headers.get("Retry-After")
            self.assertIsNotNone(retry_after, str(r))
            self.assertTrue(1 <= int(retry_after) <= 60, retry_after)
        # Even a right password is not checked now (a check is what is being limited) ...
        self.assertEqual(self.client(srv, basic("bob", "bob pass"), "127.0.5.1").ping().status, 503)
        after = admin.metrics()
        self.assertEqual(value_of(after, "bitsd_auth_verifications_total"),
                         value_of(before, "bitsd_auth_verifications_total"), "a limited attempt cost a hash")
        self.assertEqual(value_of(after, "bitsd_auth_failures_total", reason="rate_limited") -
                         value_of(before, "bitsd_auth_failures_total", reason="rate_limited"), 4)
        self.assertEqual(value_of(after, "bitsd_auth_verifications_total"), 31)
        self.assertGreaterEqual(value_of(after, "bitsd_auth_failures_total", reason="wrong_password"), 30)
        # ... but a credential verified before still works from that address, and another
        # address is not limited.
        self.assertEqual(alice.ping().status, 200)
        other = self.client(srv, basic("alice", "wrong"), "127.0.5.2")
        self.assertEqual(other.ping().status, 401)

    def test_a_remembered_credential_stops_working_after_the_file_changes_and_sighup(self):
        srv, admin = self.start_basic(user_line("alice", "old pass") + user_line("bob", "bob pass"))
        alice = self.client(srv, basic("alice", "old pass"))
        bob = self.client(srv, basic("bob", "bob pass"))
        self.assertEqual(alice.ping().status, 200)
        self.assertEqual(bob.ping().status, 200)
        before = admin.metrics()
        for _ in range(3):
            self.assertEqual(alice.ping().status, 200)
        after = admin.metrics()
        self.assertEqual(value_of(after, "bitsd_auth_verifications_total"),
                         value_of(before, "bitsd_auth_verifications_total"),
                         "a remembered credential was checked again")
        self.assertEqual(value_of(after, "bitsd_auth_cache_hits_total") -
                         value_of(before, "bitsd_auth_cache_hits_total"), 3)

        # alice's password changes and bob is removed.
        self.write_credentials(user_line("alice", "new pass"))
        mark = len(srv.log_lines())
        os.kill(srv.pid, signal.SIGHUP)
        line = wait_for_log(srv, r"configuration reloaded|reload refused", mark, timeout=30)
        self.assertIn("configuration reloaded", line, srv.log_text())
        self.assertEqual(alice.ping().status, 401, "the old password still passes")
        self.assertEqual(bob.ping().status, 401, "a removed user still passes")
        self.assertEqual(self.client(srv, basic("alice", "new pass")).ping().status, 200)

    def test_two_authorization_headers_are_refused_before_any_check(self):
        srv, admin = self.start_basic(user_line("alice", "right"))
        c = self.client(srv, None)
        before = admin.metrics()
        for pair in ((basic("alice", "right"), basic("mallory", "x")),
                     (basic("mallory", "x"), basic("alice", "right")),
                     (basic("alice", "right"), basic("alice", "right"))):
            r = c.ping(headers=[("Authorization", pair[0]), ("Authorization", pair[1])])
            self.assert_bits_error(r, 400, E_INVALIDARG, msg=f" ({pair})")
        self.assertEqual(value_of(admin.metrics(), "bitsd_auth_verifications_total"),
                         value_of(before, "bitsd_auth_verifications_total"))
        self.assertEqual(c.ping(headers=[("Authorization", basic("alice", "right"))]).status, 200)


class TrustedHeaderRepeatTest(ServerTestCase):

    def test_two_user_headers_are_refused(self):
        srv, proxy = self.start(upload={"auth": {"type": "trusted-header", "header": "X-Remote-User",
                                                 "trusted_proxies": ["127.0.0.1/32"]}})
        for pair in (("mallory", "carol"), ("carol", "mallory"), ("carol", "carol")):
            r = proxy.ping(headers=[("X-Remote-User", pair[0]), ("X-Remote-User", pair[1])])
            self.assert_bits_error(r, 400, E_INVALIDARG, msg=f" ({pair})")
            r = proxy.create_session("x.bin", headers=[("X-Remote-User", pair[0]), ("x-remote-user", pair[1])])
            self.assert_bits_error(r, 400, E_INVALIDARG, msg=f" (Create-Session, {pair})")
        self.assertEqual(proxy.ping(headers=[("X-Remote-User", "carol")]).status, 200)


if __name__ == "__main__":
    unittest.main()
