"""What a delivered upload leaves on disk, end to end: the real bitsd on a data_dir prepared by
hand, and a real back-end process (backend_server.py).

The release after a delivery (Close-Session without BITS-Copy-File-To-Destination) is two steps
on disk. A crash between them is reproduced by writing the state it leaves into the data_dir
while bitsd is stopped; the next bitsd must answer the client's Close-Session 200 and leave a
closed session without bytes.
"""

import json
import os
import unittest

from test_delivery_contention_e2e import BackendTestCase


def session_dir(srv, sid):
    return os.path.join(srv.config["data_dir"], "sessions", sid[1:3].lower(), sid)


class DeliveryReleaseTest(BackendTestCase):
    def start_sync(self, backend, kind="reference"):
        return self.start(upload={"notification": {
            "type": kind, "url": f"http://127.0.0.1:{backend.port}/ingest", "timeout_s": 30,
            "delivery": "sync", "retry": {"initial_s": 1, "max_s": 2, "give_up_after_s": 3600}}})

    def delivered_upload(self, client, name, size):
        session = client.new_session(name)
        self.assert_ok(client.fragment(session, b"d" * size, 0, size, name=name), session)
        return session

    def test_close_session_after_a_release_cut_short_answers_200(self):
        backend = self.backend()
        srv, client = self.start_sync(backend)
        unlinked = self.delivered_upload(client, "u.bin", 5000)
        recorded = self.delivered_upload(client, "r.bin", 6000)
        srv.stop()
        client.reset()

        # The bytes unlinked, `closed` never recorded: the session still says receiving.
        os.remove(os.path.join(session_dir(srv, unlinked), "data"))
        # `closed` recorded, the bytes not unlinked yet.
        meta_path = os.path.join(session_dir(srv, recorded), "metadata.json")
        with open(meta_path) as f:
            meta = json.load(f)
        self.assertEqual(meta["delivery"]["state"], "delivered")
        meta["state"] = "closed"
        with open(meta_path, "w") as f:
            json.dump(meta, f)

        srv.start()
        for session, name in ((unlinked, "u.bin"), (recorded, "r.bin")):
            self.assert_ok(client.close(session, name), session, f" ({name})")
            self.assertFalse(os.path.exists(os.path.join(session_dir(srv, session), "data")), name)
            with open(os.path.join(session_dir(srv, session), "metadata.json")) as f:
                meta = json.load(f)
            self.assertEqual(meta["state"], "closed", name)
            self.assertEqual(meta["delivery"]["state"], "delivered", name)
            self.assert_ok(client.close(session, name), session, f" ({name}, again)")
        # Nothing reached the destination: the back-end has the files.
        self.assertEqual(os.listdir(srv.files_dir) if os.path.isdir(srv.files_dir) else [], [])


if __name__ == "__main__":
    unittest.main()
