"""Authentication per upload prefix (issue 9, item 2).

* basic: a request without credentials, or with wrong ones, gets 401 + WWW-Authenticate: Basic
  realm="..." (Ping included), on a connection that stays usable: a small rejected body is read
  and dropped, a large one closes the connection after the answer. With the right credentials
  the upload completes. Hashes come from `bitsd passwd` (yescrypt by default, sha512-crypt with
  --method sha512).
* A session belongs to the user who created it: another user gets the unknown-session answer.
* trusted-header: the user header is believed only from trusted_proxies; anything else is
  403 + 0x80070005.
* Rejections at start-up, each naming its key: Basic without allow_basic_without_tls (bitsd has
  no TLS listener yet), an unreadable credentials file, a plaintext password in it, keys that do
  not belong to the type, a malformed network.
"""

import base64
import json
import os
import subprocess
import tempfile
import unittest

from bitsd_harness import (
    KIB, BG_E_SESSION_NOT_FOUND, E_ACCESSDENIED, BitsClient, PatternSource, ServerTestCase,
    bitsd_binary,
)
from test_limits_e2e import BoundClient


def passwd(user, password, *extra):
    p = subprocess.run([bitsd_binary(), "passwd", *extra, user], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AuthClient(BitsClient):
    """Sends an Authorization header with every request."""

    def __init__(self, server, authorization, **kw):
        super().__init__(server, **kw)
        self.authorization = authorization

    def request(self, method, target, headers=None, body=b"", **kw):
        hl = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if self.authorization:
            hl.append(("Authorization", self.authorization))
        return super().request(method, target, hl, body, **kw)


class BasicAuthTest(ServerTestCase):

    def start_basic(self):
        rc, alice, err = passwd("alice", "s3cret pass")
        self.assertEqual(rc, 0, err)
        self.assertTrue(alice.startswith("alice:$y$"), alice)
        rc, bob, err = passwd("bob", "hunter2", "--method", "sha512")
        self.assertEqual(rc, 0, err)
        self.assertTrue(bob.startswith("bob:$6$"), bob)
        creds = tempfile.NamedTemporaryFile("w", suffix=".passwd", delete=False)
        self.addCleanup(os.remove, creds.name)
        creds.write("# bitsd users\n\n" + alice + bob)
        creds.close()
        return self.start(upload={"auth": {"type": "basic", "credentials_file": creds.name,
                                           "realm": "BITS test", "allow_basic_without_tls": True}})

    def assert_challenge(self, r, msg=""):
        self.assertEqual(r.status, 401, f"HTTP status{msg}\n{r}")
        self.assertEqual(r.headers.get("WWW-Authenticate"), 'Basic realm="BITS test", charset="UTF-8"', str(r))

    def test_401_then_success_with_the_right_credentials(self):
        srv, anonymous = self.start_basic()
        self.assert_challenge(anonymous.ping(), " (Ping without credentials)")
        self.assert_challenge(anonymous.create_session("a.bin"), " (Create-Session without credentials)")
        # The connection survives a 401 and carries the retry with credentials.
        conn_before = anonymous.conn
        self.assertIsNotNone(conn_before, "the 401 closed the connection")
        r = anonymous.ping(headers=[("Authorization", basic("alice", "s3cret pass"))])
        self.assertEqual(r.status, 200, str(r))
        self.assertIs(anonymous.conn, conn_before, "the retry needed a new connection")

        alice = AuthClient(srv, basic("alice", "s3cret pass"))
        self.addCleanup(alice.reset)
        data = PatternSource(300 * KIB, 9)
        result = alice.upload_file(data, "a.bin", 100 * KIB)
        self.assert_ok(alice.close(result.session_id, "a.bin"), result.session_id)
        self.assert_file(srv.file_path("a.bin"), data.sha256(), data.size)
        bob = AuthClient(srv, basic("bob", "hunter2"))
        self.addCleanup(bob.reset)
        self.assertEqual(bob.ping().status, 200, "sha512-crypt credentials refused")

    def test_wrong_credentials_fail(self):
        srv, _ = self.start_basic()
        for authorization in (basic("alice", "wrong"), basic("alice", ""), basic("mallory", "s3cret pass"),
                              basic("alice", "s3cret pass") + "=", "Basic !!!!", "Bearer abc",
                              "Basic " + base64.b64encode(b"alice").decode(), basic("ALICE", "s3cret pass")):
            c = AuthClient(srv, authorization)
            self.addCleanup(c.reset)
            self.assert_challenge(c.create_session("x.bin"), f" ({authorization!r})")
        self.assertEqual(os.listdir(srv.files_dir) if os.path.isdir(srv.files_dir) else [], [])

    def test_a_rejected_fragment_body_is_drained_or_the_connection_closed(self):
        srv, _ = self.start_basic()
        alice = AuthClient(srv, basic("alice", "s3cret pass"))
        self.addCleanup(alice.reset)
        sid = alice.new_session("f.bin")
        mallory = AuthClient(srv, basic("alice", "nope"))
        self.addCleanup(mallory.reset)
        r = mallory.fragment(sid, b"x" * (16 * KIB), 0, 32 * KIB, "f.bin")
        self.assert_challenge(r, " (a small fragment)")
        self.assertIsNotNone(mallory.conn, "a drained 401 closed the connection")
        self.assert_challenge(mallory.ping(), " (the next request on the same connection)")
        r = mallory.fragment(sid, b"y" * (256 * KIB), 0, 256 * KIB, "f.bin")
        self.assert_challenge(r, " (a large fragment)")
        self.assertIsNone(mallory.conn, "a large unread body left the connection open")
        # Nothing was stored: the owner starts at 0.
        r = alice.fragment(sid, b"z" * (32 * KIB), 0, 32 * KIB, "f.bin")
        self.assert_ok(r, sid)
        self.assert_received(r, 32 * KIB)

    def test_another_user_gets_the_unknown_session_answer(self):
        srv, _ = self.start_basic()
        alice = AuthClient(srv, basic("alice", "s3cret pass"))
        bob = AuthClient(srv, basic("bob", "hunter2"))
        self.addCleanup(alice.reset)
        self.addCleanup(bob.reset)
        sid = alice.new_session("mine.bin")
        self.assert_bits_error(bob.fragment(sid, b"x" * KIB, 0, KIB, "mine.bin"), 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assert_bits_error(bob.cancel(sid, "mine.bin"), 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assert_ok(alice.fragment(sid, b"x" * KIB, 0, KIB, "mine.bin"), sid)
        self.assert_ok(alice.close(sid, "mine.bin"), sid)


class TrustedHeaderTest(ServerTestCase):

    def test_the_user_header_is_believed_only_from_trusted_proxies(self):
        srv, proxy = self.start(upload={"auth": {"type": "trusted-header", "header": "X-Remote-User",
                                                 "trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"]}})
        carol = [("X-Remote-User", "carol")]
        sid = proxy.create_session("c.bin", headers=carol)
        self.assertEqual(sid.status, 200, str(sid))
        sid = sid.headers["BITS-Session-Id"]
        self.assert_bits_error(proxy.ping(), 403, E_ACCESSDENIED, msg=" (no user header)")
        direct = BoundClient(srv, "127.0.4.1")
        self.addCleanup(direct.reset)
        self.assert_bits_error(direct.ping(headers=carol), 403, E_ACCESSDENIED, msg=" (not from a proxy)")
        # Another user behind the proxy cannot use carol's session.
        r = proxy.close(sid, "c.bin", headers=[("X-Remote-User", "dave")])
        self.assert_bits_error(r, 500, BG_E_SESSION_NOT_FOUND, sid)
        self.assert_ok(proxy.close(sid, "c.bin", headers=carol), sid)


class AuthConfigTest(unittest.TestCase):

    def run_with(self, auth, credentials=None):
        root = tempfile.mkdtemp(prefix="bitsd-e2e-auth-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", root]))
        if credentials is not None:
            with open(os.path.join(root, "users"), "w") as f:
                f.write(credentials)
        cfg = {"listen": ["127.0.0.1:0"], "data_dir": os.path.join(root, "data"),
               "uploads": [{"url_prefix": "/uploads/", "destination_dir": os.path.join(root, "files"),
                            "auth": auth}]}
        path = os.path.join(root, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([bitsd_binary(), "--config", path], capture_output=True, text=True, timeout=20,
                           cwd=root)
        return p.returncode, p.stdout + p.stderr, root

    def test_every_rejection_names_its_key(self):
        users = "/nonexistent"
        cases = [
            ({"type": "basic", "credentials_file": users}, "uploads[0].auth.allow_basic_without_tls"),
            ({"type": "basic", "allow_basic_without_tls": True}, "uploads[0].auth.credentials_file: is required"),
            ({"type": "kerberos"}, "uploads[0].auth.type"),
            ({"credentials_file": users}, "uploads[0].auth.type: is required"),
            ({"type": "none", "realm": "x"}, "uploads[0].auth.realm: only valid with"),
            ({"type": "basic", "credentials_file": users, "allow_basic_without_tls": True, "realm": 'a"b'},
             "uploads[0].auth.realm"),
            ({"type": "trusted-header"}, "uploads[0].auth.trusted_proxies: is required"),
            ({"type": "trusted-header", "trusted_proxies": ["10.0.0.0/33"]}, "uploads[0].auth.trusted_proxies[0]"),
            ({"type": "trusted-header", "trusted_proxies": ["10.0.0.0/8"], "header": "X Bad"},
             "uploads[0].auth.header"),
            ({"type": "trusted-header", "trusted_proxies": []}, "uploads[0].auth.trusted_proxies"),
            ({"type": "none", "colour": 1}, 'uploads[0].auth: unknown key "colour"'),
        ]
        for auth, expected in cases:
            with self.subTest(auth=auth):
                rc, out, _ = self.run_with(auth)
                self.assertNotEqual(rc, 0, out)
                self.assertIn(expected, out)

    def test_an_unusable_credentials_file_stops_start_up(self):
        for content, expected in ((None, "cannot be read"), ("alice:plaintext\n", "not a crypt(3) hash"),
                                  ("alice:$1$abc$def\n", "not a crypt(3) hash"),  # MD5: legacy
                                  ("no colon here\n", 'expected "user:hash"')):
            with self.subTest(content=content):
                rc, out, root = self.run_with({"type": "basic", "credentials_file": "users",
                                               "allow_basic_without_tls": True}, content)
                self.assertNotEqual(rc, 0, out)
                self.assertIn("uploads[0].auth.credentials_file", out)
                self.assertIn(expected, out)

    def test_passwd_refuses_bad_input(self):
        self.assertEqual(passwd("a:b", "pw")[0], 2)
        self.assertEqual(passwd("alice", "")[0], 2)
        self.assertEqual(passwd("alice", "pw", "--method", "md5")[0], 2)


if __name__ == "__main__":
    unittest.main()
