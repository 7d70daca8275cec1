"""Where a notification goes and what it names never depends on the client's Host header, and
its signature covers everything the back-end acts on.

* A relative notification URL resolves against `public_base_url`; without that key start-up
  refuses it (the client's Host would choose the back-end). With it, a hostile Host changes
  nothing the back-end gets, and the reply URL uses the configured base.
* With an absolute notification URL and no `public_base_url`, BITS-Original-Request-URL is
  built from the listener's own address; the client's Host appears only in the reply URL
  handed back to that client.
* BITS-Signature's v2 (checked with the README's own verifier, tests/e2e/readme_verifier.py)
  fails for a notification with a forged BITS-Request-DataFile-Name; v1 is still sent.
"""

import os
import tempfile
import unittest

import readme_verifier
from bitsd_harness import BitsClient, HarnessError, ServerTestCase
from test_delivery_sync_e2e import Backend, hdr

SECRET = b"origin-e2e-secret"


class NotificationOriginTest(ServerTestCase):
    def setUp(self):
        self.secret_file = os.path.join(tempfile.mkdtemp(prefix="bitsd-secret-"), "backend.key")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        os.chmod(self.secret_file, 0o600)

    def notifying(self, url, **extra):
        notification = {"type": "reference", "url": url, "timeout_s": 20, "delivery": "sync",
                        "signing_secret_file": self.secret_file}
        return self.start(upload={"notification": notification}, extra=extra)

    def upload(self, client, name, data):
        session = client.new_session(name)
        r = client.fragment(session, data, 0, len(data), name=name)
        return session, r

    def test_a_clients_host_never_chooses_where_a_relative_notification_goes(self):
        hostile = Backend(self).start()
        try:
            srv, _ = self.notifying("/ingest")
        except HarnessError as refused:
            # Start-up refuses the relative URL without public_base_url, naming both keys.
            message = str(refused)
            self.assertIn("uploads[0].notification.url", message)
            self.assertIn("public_base_url", message)
            return
        # It started: a client names the back-end with its Host header.
        client = BitsClient(srv, host_header=f"127.0.0.1:{hostile.port}")
        self.addCleanup(client.reset)
        self.upload(client, "steer.bin", os.urandom(1000))
        self.assertEqual(hostile.requests(), [], "the client's Host header chose the back-end")
        self.fail("start-up accepted a relative notification URL without public_base_url")

    def test_a_relative_notification_url_resolves_against_public_base_url_whatever_the_host(self):
        intended = Backend(self).start()
        hostile = Backend(self).start()
        base = f"http://127.0.0.1:{intended.port}"
        srv, _ = self.notifying("/ingest", public_base_url=base)
        client = BitsClient(srv, host_header=f"127.0.0.1:{hostile.port}")
        self.addCleanup(client.reset)
        data = os.urandom(4096)
        session, r = self.upload(client, "dir/a.bin", data)
        self.assert_ok(r, session)
        self.assertEqual(hostile.requests(), [], "the client's Host chose the back-end")
        (sent,) = intended.requests()
        self.assertEqual(sent["target"], "/ingest")
        self.assertEqual(hdr(sent, "BITS-Original-Request-URL"), base + "/uploads/dir/a.bin")
        # The reply URL handed back uses the configured base too.
        self.assertTrue(r.headers["BITS-Reply-URL"].startswith(base + "/uploads/dir/BITS-Sessions/Replies/"),
                        r.headers["BITS-Reply-URL"])

    def test_without_public_base_url_the_back_end_never_sees_the_clients_host(self):
        backend = Backend(self).start()
        srv, _ = self.notifying(backend.url)
        client = BitsClient(srv, host_header="attacker.example:1")
        self.addCleanup(client.reset)
        session, r = self.upload(client, "b.bin?tenant=7", os.urandom(1000))
        self.assert_ok(r, session)
        (sent,) = backend.requests()
        self.assertEqual(hdr(sent, "BITS-Original-Request-URL"),
                         f"http://127.0.0.1:{srv.port}/uploads/b.bin?tenant=7")
        for name, value in sent["headers"]:
            self.assertNotIn("attacker", value, name)
        # Only the URL the same client gets back may carry its Host.
        self.assertTrue(r.headers["BITS-Reply-URL"].startswith("http://attacker.example:1/uploads/"))

    def test_v2_signature_covers_the_data_file_name_as_the_readme_verifies_it(self):
        backend = Backend(self).start()
        srv, client = self.notifying(backend.url + "?q=1")
        session, r = self.upload(client, "sig.bin", os.urandom(2000))
        self.assert_ok(r, session)
        (sent,) = backend.requests()
        readme = readme_verifier.load(SECRET)
        headers = readme_verifier.Headers(sent["headers"])
        signature = headers["BITS-Signature"]
        self.assertRegex(signature, r"^t=\d+,v1=[0-9a-f]{64},v2=[0-9a-f]{64}$")
        self.assertTrue(readme["signed_by_bitsd"]("POST", sent["target"], headers))
        # A captured notification replayed with another file name, target or size is refused.
        for name, value in (("BITS-Request-DataFile-Name", "/etc/shadow"),
                            ("BITS-Response-DataFile-Name", "/tmp/elsewhere"),
                            ("BITS-Upload-Size", "1"), ("BITS-Session-Id", "{00000000-0000-0000-0000-000000000000}")):
            self.assertFalse(readme["signed_by_bitsd"]("POST", sent["target"], headers.replaced(name, value)), name)
        self.assertFalse(readme["signed_by_bitsd"]("POST", "/other", headers))
        # The README's handler says the same.
        forged = headers.replaced("BITS-Request-DataFile-Name", "/etc/shadow")
        self.assertEqual(readme["handle"]("POST", sent["target"], forged, b""), 401)


if __name__ == "__main__":
    unittest.main()
