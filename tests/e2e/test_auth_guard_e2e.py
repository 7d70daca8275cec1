"""What Basic authentication costs, what it remembers, and whom an upload-reply is served to.

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
* An upload-reply is routed to its upload prefix, passes that prefix's authentication, and is
  served to the session's owner only: another user, or no credentials, gets what a missing
  reply gets (404, or the 401 challenge before that).
"""

import os
import shutil
import signal
import tempfile
import time
import unittest
import urllib.parse

from bitsd_harness import (
    E_INVALIDARG, KIB, NO_LIMITS, BitsClient, PatternSource, Server, ServerTestCase,
)
from test_admin_e2e import AdminClient, value_of
from test_auth_e2e import AuthClient, basic, passwd
from test_delivery_sync_e2e import SECRET, Backend
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
        srv, admin = self.start_basic(user_line("alice", "right") + user_line("bob", "bob pass"), limit=3)
        alice = self.client(srv, basic("alice", "right"), "127.0.5.1")
        self.assertEqual(alice.ping().status, 200)
        guesser = self.client(srv, None, "127.0.5.1")
        # A small limit refills slowly (a token every 20 s): the refusals below cannot race a
        # refill on a slow machine (under ASan every request costs several times more).
        for i in range(3):
            r = guesser.ping(headers=[("Authorization", basic("alice", f"guess {i}"))])
            self.assertEqual(r.status, 401, f"failure {i + 1}: {r}")
        before = admin.metrics()
        for i in range(3):
            r = guesser.ping(headers=[("Authorization", basic("alice", f"more {i}"))])
            self.assert_bits_error(r, 503, SERVICE_UNAVAILABLE, msg=f" (failure {4 + i})")
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
        self.assertEqual(value_of(after, "bitsd_auth_verifications_total"), 4)
        self.assertGreaterEqual(value_of(after, "bitsd_auth_failures_total", reason="wrong_password"), 3)
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


class ReplyOwnerTest(ServerTestCase):

    def setUp(self):
        folder = tempfile.mkdtemp(prefix="bitsd-reply-owner-")
        self.addCleanup(shutil.rmtree, folder, True)
        self.secret_file = os.path.join(folder, "backend.key")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        os.chmod(self.secret_file, 0o600)
        self.credentials = os.path.join(folder, "users.passwd")
        with open(self.credentials, "w") as f:
            f.write(user_line("alice", "alice pass") + user_line("bob", "bob pass"))

    def get(self, srv, url, authorization=None, source="127.0.0.1"):
        parsed = urllib.parse.urlsplit(url)
        c = BoundClient(srv, source)
        self.addCleanup(c.reset)
        headers = [("Host", parsed.netloc)]
        if authorization:
            headers.append(("Authorization", authorization))
        return c.request("GET", parsed.path, headers)

    def upload_with_reply(self, srv, client, name):
        data = PatternSource(8 * KIB, 4)
        sid = client.new_session(name)
        r = client.fragment(sid, data.read(0, data.size), 0, data.size, name)
        self.assert_ok(r, sid)
        reply_url = r.headers.get("BITS-Reply-URL")
        self.assertIsNotNone(reply_url, str(r))
        return reply_url

    def test_a_basic_prefix_reply_is_served_to_its_owner_only(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 200, "write_reply_file": "the reply"}})
        notification = {"type": "reference", "url": backend.url, "delivery": "sync",
                        "signing_secret_file": self.secret_file}
        srv = Server(self, upload={"notification": notification, "auth": {
            "type": "basic", "credentials_file": self.credentials, "realm": "R",
            "allow_basic_without_tls": True}}).start()
        alice = AuthClient(srv, basic("alice", "alice pass"))
        self.addCleanup(alice.reset)
        reply_url = self.upload_with_reply(srv, alice, "a.bin")
        missing = reply_url.replace("Replies/%7B", "Replies/%7B0")  # no such session

        anonymous = self.get(srv, reply_url, source="127.0.6.1")
        self.assertEqual(anonymous.status, 401, f"no credentials, another address:\n{anonymous}")
        self.assertNotEqual(anonymous.body, b"the reply")
        for authorization in (basic("bob", "bob pass"), basic("alice", "wrong")):
            r = self.get(srv, reply_url, authorization, source="127.0.6.1")
            self.assertIn(r.status, (401, 404), f"{authorization}:\n{r}")
            self.assertNotEqual(r.body, b"the reply")
        bob = self.get(srv, reply_url, basic("bob", "bob pass"))
        self.assertEqual(bob.status, 404, f"another user:\n{bob}")
        self.assertEqual((bob.status, bob.body, bob.headers.get("Content-Length")),
                         (lambda m: (m.status, m.body, m.headers.get("Content-Length")))(
                             self.get(srv, missing, basic("bob", "bob pass"))),
                         "another user's reply differs from a missing one")
        owner = self.get(srv, reply_url, basic("alice", "alice pass"), source="127.0.6.2")
        self.assertEqual((owner.status, owner.body), (200, b"the reply"), str(owner))

    def test_an_open_prefix_reply_is_served_to_the_address_that_uploaded(self):
        backend = Backend(self).start()
        backend.control({"default": {"status": 200, "write_reply_file": "open reply"}})
        notification = {"type": "reference", "url": backend.url, "delivery": "sync",
                        "signing_secret_file": self.secret_file}
        srv = Server(self, upload={"notification": notification}).start()
        client = BoundClient(srv, "127.0.7.1")
        self.addCleanup(client.reset)
        reply_url = self.upload_with_reply(srv, client, "o.bin")
        self.assertEqual(self.get(srv, reply_url, source="127.0.7.2").status, 404)
        r = self.get(srv, reply_url, source="127.0.7.1")
        self.assertEqual((r.status, r.body), (200, b"open reply"), str(r))


if __name__ == "__main__":
    unittest.main()
