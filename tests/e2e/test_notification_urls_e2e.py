"""Every upload a notifying prefix accepts can be delivered: what the notification needs of the
request's URL is either made to fit (characters a URL cannot carry raw are percent-encoded, the
client's Host is never needed by the back-end) or refused at Create-Session with 400 +
E_INVALIDARG, never found out at the final fragment. And a local failure no retry can fix
dead-letters at once instead of being retried for days.
"""

import glob
import json
import os
import time
import unittest

from bitsd_harness import E_INVALIDARG, BitsClient, ServerTestCase
from test_delivery_async_e2e import free_port
from test_delivery_sync_e2e import Backend, hdr

# A name with raw UTF-8, as a client that does not percent-encode sends it (the harness writes
# the request head as latin-1, so these are the UTF-8 bytes on the wire).
UTF8_NAME = "caf\u00e9-\u65e5\u672c.bin".encode().decode("latin-1")


class NotificationUrlTest(ServerTestCase):
    def notifying(self, backend, delivery="sync", **kw):
        notification = {"type": "reference", "url": backend.url, "timeout_s": 20, "delivery": delivery,
                        "retry": {"initial_s": 1, "max_s": 1, "give_up_after_s": 3600}}
        return self.start(upload={"notification": notification}, **kw)

    def upload(self, client, name, data, **kw):
        r = client.create_session(name, **kw)
        self.assertEqual(r.status, 200, str(r))
        session = r.headers["BITS-Session-Id"]
        return session, client.fragment(session, data, 0, len(data), name=name, **kw)

    def assert_delivered(self, backend, r, session, encoded_path):
        self.assert_ok(r, session)
        (sent,) = backend.requests()
        url = hdr(sent, "BITS-Original-Request-URL")
        self.assertTrue(url.endswith(encoded_path), url)
        self.assertTrue(all(0x20 < ord(c) < 0x7F for c in url), url)
        reply = r.headers.get("BITS-Reply-URL")
        self.assertIsNotNone(reply, str(r))
        self.assertTrue(all(0x20 < ord(c) < 0x7F for c in reply), reply)

    def test_raw_characters_a_url_cannot_carry_are_percent_encoded(self):
        backend = Backend(self).start()
        srv, client = self.notifying(backend)
        for name, encoded in (("a{b}.bin", "/uploads/a%7Bb%7D.bin"),
                              ("c^d`e.bin?x=|", "/uploads/c%5Ed%60e.bin?x=%7C"),
                              (UTF8_NAME, "/uploads/caf%C3%A9-%E6%97%A5%E6%9C%AC.bin")):
            with self.subTest(name=name):
                backend.control({"default": {"status": 200}})
                before = len(backend.requests())
                session, r = self.upload(client, name, os.urandom(1000))
                self.assert_ok(r, session)
                sent = backend.requests()[before:]
                self.assertEqual(len(sent), 1, sent)
                url = hdr(sent[0], "BITS-Original-Request-URL")
                self.assertEqual(url, f"http://127.0.0.1:{srv.port}{encoded}")
                self.assertIn("BITS-Reply-URL", r.headers, str(r))

    def test_http_1_0_without_host_completes(self):
        backend = Backend(self).start()
        srv, client = self.notifying(backend)
        session, r = self.upload(client, "old.bin", os.urandom(1000), version="HTTP/1.0", host=False)
        self.assert_delivered(backend, r, session, "/uploads/old.bin")
        self.assertTrue(r.headers["BITS-Reply-URL"].startswith(f"http://127.0.0.1:{srv.port}/uploads/"))

    def test_a_host_with_userinfo_completes(self):
        backend = Backend(self).start()
        srv, _ = self.notifying(backend)
        client = BitsClient(srv, host_header=f"user@127.0.0.1:{srv.port}")
        self.addCleanup(client.reset)
        session, r = self.upload(client, "who.bin", os.urandom(1000))
        self.assert_delivered(backend, r, session, "/uploads/who.bin")
        self.assertNotIn("user@", r.headers["BITS-Reply-URL"])

    def test_an_async_delivery_of_a_raw_name_is_delivered(self):
        backend = Backend(self).start()
        srv, client = self.notifying(backend, delivery="async")
        session, r = self.upload(client, "x{y}.bin", os.urandom(1000))
        self.assert_ok(r, session)
        deadline = time.monotonic() + 10
        while not backend.requests() and time.monotonic() < deadline:
            time.sleep(0.1)
        (sent,) = backend.requests()
        self.assertTrue(hdr(sent, "BITS-Original-Request-URL").endswith("/uploads/x%7By%7D.bin"))

    def test_a_url_too_long_for_the_notification_is_refused_at_create_session(self):
        backend = Backend(self).start()
        srv, client = self.notifying(backend)
        name = "long.bin?" + "q" * 2300
        r = client.create_session(name)
        self.assert_bits_error(r, 400, E_INVALIDARG)
        # And a final fragment whose query makes it too long gets the same, not a 500 forever.
        session = client.new_session("long.bin")
        r = client.fragment(session, b"abc", 0, 3, name=name)
        self.assert_bits_error(r, 400, E_INVALIDARG)
        self.assertEqual(backend.requests(), [])

    def test_an_outbox_failure_no_retry_can_fix_dead_letters_at_once(self):
        # A record whose URL cannot be built (stored by a bitsd that did not check it): the
        # outbox gives up on the first attempt rather than every second for a week.
        down = free_port()
        srv, client = self.notifying(Backend(self, port=down), delivery="async")
        session, r = self.upload(client, "late.bin", os.urandom(100))
        self.assert_ok(r, session)
        srv.stop()
        (path,) = glob.glob(os.path.join(srv.data_dir, "sessions", "*", session, "metadata.json"))
        with open(path) as f:
            metadata = json.load(f)
        metadata["delivery"]["upload_target"] = "/uploads/late.bin?" + "q" * 3000
        with open(path, "w") as f:
            json.dump(metadata, f)
        srv.start()
        deadline = time.monotonic() + 8
        state = None
        while time.monotonic() < deadline:
            with open(path) as f:
                state = json.load(f)["delivery"]
            if state["state"] == "dead_lettered":
                break
            time.sleep(0.2)
        self.assertEqual(state["state"], "dead_lettered", state)
        self.assertLessEqual(state["attempts"], 3, state)


if __name__ == "__main__":
    unittest.main()
