"""Self-test of backend_server.py, the stand-in back-end application for the delivery tests.

Starts it as its own process, as the delivery e2e tests will, and checks each behaviour they rely
on: the request log, keep-alive, failing N times, stalling, dropping the connection, answering
close-delimited, the BITS reply headers and the reply file written by reference.
"""

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "backend_server.py")


class BackendProcess:
    def __init__(self, directory, control=None):
        self.log = os.path.join(directory, "requests.jsonl")
        args = [sys.executable, SCRIPT, "--log", self.log]
        if control:
            args += ["--control", control]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def connect(self, timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def control(self, state):
        c = self.connect()
        c.request("POST", "/_control", body=json.dumps(state).encode())
        response = c.getresponse()
        response.read()
        c.close()
        if response.status != 204:
            raise AssertionError(f"control refused: {response.status}")

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


class BackendServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.backend = BackendProcess(self.tmp.name)

    def tearDown(self):
        self.backend.stop()
        self.tmp.cleanup()

    def post(self, connection, body=b"", headers=None, target="/ingest"):
        connection.request("POST", target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()

    def test_records_every_request_and_keeps_the_connection(self):
        body = os.urandom(300000)
        c = self.backend.connect()
        response, _ = self.post(c, body, {"Idempotency-Key": "k1"}, "/ingest?a=1")
        self.assertEqual(response.status, 200)
        response, _ = self.post(c, b"", {"Idempotency-Key": "k1"})
        self.assertEqual(response.status, 200)
        c.close()
        first, second = self.backend.requests()
        self.assertEqual(first["method"], "POST")
        self.assertEqual(first["target"], "/ingest?a=1")
        self.assertEqual(first["body_len"], len(body))
        self.assertEqual(first["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertIn(["Idempotency-Key", "k1"], first["headers"])
        self.assertEqual(first["connection"], second["connection"])
        self.assertEqual([first["n"], second["n"]], [1, 2])
        self.assertLessEqual(first["time"], second["time"])

    def test_fails_n_times_then_succeeds(self):
        self.backend.control({"queue": [{"status": 503, "count": 2}], "default": {"status": 200}})
        c = self.backend.connect()
        statuses = [self.post(c)[0].status for _ in range(3)]
        c.close()
        self.assertEqual(statuses, [503, 503, 200])
        self.assertEqual(len(self.backend.requests()), 3)

    def test_reply_body_and_bits_headers(self):
        self.backend.control({"default": {"status": 201, "body": "the reply",
                                          "static_response_url": "http://cdn/r",
                                          "copy_to_destination": True,
                                          "headers": {"X-Extra": "1"}}})
        c = self.backend.connect()
        response, body = self.post(c)
        c.close()
        self.assertEqual(response.status, 201)
        self.assertEqual(body, b"the reply")
        self.assertEqual(response.getheader("BITS-Static-Response-URL"), "http://cdn/r")
        self.assertEqual(response.getheader("BITS-Copy-File-To-Destination"), "true")
        self.assertEqual(response.getheader("X-Extra"), "1")

    def test_writes_the_reply_file_by_reference(self):
        reply = os.path.join(self.tmp.name, "responsefile.bin")
        self.backend.control({"default": {"write_reply_file": "reply by reference"}})
        c = self.backend.connect()
        response, _ = self.post(c, headers={"BITS-Response-DataFile-Name": reply})
        c.close()
        self.assertEqual(response.status, 200)
        with open(reply, "rb") as f:
            self.assertEqual(f.read(), b"reply by reference")

    def test_stalls(self):
        self.backend.control({"queue": [{"stall_s": 5}]})
        c = self.backend.connect(timeout=0.3)
        started = time.monotonic()
        with self.assertRaises(socket.timeout):
            self.post(c)
        self.assertLess(time.monotonic() - started, 2)
        c.close()
        # The stalled request was recorded, and other connections are answered meanwhile.
        other = self.backend.connect()
        self.assertEqual(self.post(other)[0].status, 200)
        other.close()
        self.assertEqual(len(self.backend.requests()), 2)

    def test_drops_the_connection(self):
        self.backend.control({"queue": [{"drop": True}]})
        c = self.backend.connect()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.post(c)
        c.close()
        self.assertEqual(len(self.backend.requests()), 1)

    def test_answers_close_delimited(self):
        self.backend.control({"default": {"close_delimited": True, "body": "x" * 5000}})
        with socket.create_connection(("127.0.0.1", self.backend.port), timeout=5) as s:
            s.sendall(b"POST /n HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Connection: close", head)
        self.assertNotIn(b"content-length", head.lower())
        self.assertEqual(body, b"x" * 5000)

    def test_control_paths_are_not_recorded_and_bad_control_is_refused(self):
        c = self.backend.connect()
        c.request("POST", "/_control", body=b"[1, 2]")
        response = c.getresponse()
        response.read()
        self.assertEqual(response.status, 400)
        c.request("GET", "/_requests")
        response = c.getresponse()
        self.assertEqual(json.loads(response.read()), [])
        c.close()
        self.assertEqual(self.backend.requests(), [])


class ControlFileTest(unittest.TestCase):
    def test_control_file_is_reread_when_it_changes(self):
        with tempfile.TemporaryDirectory() as tmp:
            control = os.path.join(tmp, "control.json")
            with open(control, "w") as f:
                json.dump({"default": {"status": 500}}, f)
            backend = BackendProcess(tmp, control)
            try:
                c = backend.connect()
                c.request("POST", "/n")
                response = c.getresponse()
                response.read()
                self.assertEqual(response.status, 500)
                c.close()
                with open(control + ".new", "w") as f:
                    json.dump({"default": {"status": 204}}, f)
                os.replace(control + ".new", control)
                c = backend.connect()
                c.request("POST", "/n")
                response = c.getresponse()
                response.read()
                self.assertEqual(response.status, 204)
                c.close()
            finally:
                backend.stop()


if __name__ == "__main__":
    unittest.main()
