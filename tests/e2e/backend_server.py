#!/usr/bin/env python3
"""A real back-end application for bitsd's delivery tests (issue 7), Python standard library only.

It is a separate process listening on 127.0.0.1, not a mock inside bitsd: bitsd's HTTP client
talks to it over real sockets. It prints its port on the first line of stdout, then records every
request (method, target, headers, body length and SHA-256, connection number, time) as one JSON
line in the --log file, and answers as its control state says.

Control state (JSON), set with POST /_control (the body) or through --control FILE (re-read
whenever the file changes; the queue restarts from the file's content):

    {"default": ACTION, "queue": [ACTION, ...]}

Each request takes the first action of the queue (an action with "count": N serves N requests),
or the default when the queue is empty. An ACTION is an object with, all optional:

    "status": 200                        the status code (default 200)
    "body": "text" | "body_b64": "..."   the response body (default empty)
    "headers": {"Name": "value"}         extra response headers
    "static_response_url": "http://..."  sends BITS-Static-Response-URL
    "copy_to_destination": true          sends BITS-Copy-File-To-Destination: true
    "write_reply_file": "text"           by reference: writes this to BITS-Response-DataFile-Name
    "stall_s": 2.5                       waits this long before answering (after reading the body)
    "drop": true                         closes the connection without answering
    "close_delimited": true              no Content-Length; the body ends when the connection closes
    "close_after_answer": true           answers with a length, then closes unannounced
    "count": 3                           serves this many requests (queue entries only)

With --tls-cert/--tls-key it serves https (for the HTTP client's certificate checks).

GET /_requests answers the recorded requests as a JSON list. Paths starting with /_ are never
recorded. Runs until SIGTERM / SIGINT.
"""

import argparse
import base64
import hashlib
import http.server
import itertools
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

CONTROL_PREFIX = "/_"


class BackendState:
    """The control state and the request log, shared by the connection threads."""

    def __init__(self, log_path, control_path):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.control_path = control_path
        self.control_stamp = None
        self.default = {}
        self.queue = []
        self.requests = []
        self.sequence = itertools.count(1)
        self.connections = itertools.count(1)

    def set_control(self, control):
        if not isinstance(control, dict):
            raise ValueError("control must be a JSON object")
        queue = []
        for action in control.get("queue", []):
            count = int(action.get("count", 1))
            queue.extend([action] * count)
        with self.lock:
            self.default = dict(control.get("default", {}))
            self.queue = queue

    def _reload_control_file(self):
        if not self.control_path:
            return
        try:
            info = os.stat(self.control_path)
        except FileNotFoundError:
            return
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self.control_stamp:
            return
        with open(self.control_path, "rb") as f:
            control = json.loads(f.read() or b"{}")
        self.control_stamp = stamp
        self.set_control(control)

    def next_action(self):
        self._reload_control_file()
        with self.lock:
            if self.queue:
                return self.queue.pop(0)
            return self.default

    def record(self, entry):
        with self.lock:
            entry["n"] = next(self.sequence)
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                    f.flush()

    def snapshot(self):
        with self.lock:
            return list(self.requests)


class BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless an action closes
    server_version = "bitsd-test-backend/1"

    def setup(self):
        super().setup()
        self.connection_number = next(self.server.state.connections)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # the JSON-lines log is the record; stderr stays quiet

    def _read_body(self):
        length = self.headers.get("Content-Length")
        digest = hashlib.sha256()
        size = 0
        if length is not None:
            remaining = int(length)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                remaining -= len(chunk)
        return size, digest.hexdigest()

    def _control(self, size_and_body):
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path == "/_control":
            try:
                self.server.state.set_control(json.loads(size_and_body or b"{}"))
            except (ValueError, TypeError) as error:
                return self._send_simple(400, str(error).encode())
            return self._send_simple(204, b"")
        if self.command == "GET" and path == "/_requests":
            return self._send_simple(200, json.dumps(self.server.state.snapshot()).encode(),
                                     "application/json")
        return self._send_simple(404, b"unknown control path")

    def _send_simple(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        if self.path.startswith(CONTROL_PREFIX):
            length = int(self.headers.get("Content-Length") or 0)
            return self._control(self.rfile.read(length))

        received_at = time.time()
        size, sha256 = self._read_body()
        self.server.state.record({
            "time": received_at,
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body_len": size,
            "body_sha256": sha256,
            "connection": self.connection_number,
        })
        action = self.server.state.next_action()
        if action.get("stall_s"):
            time.sleep(float(action["stall_s"]))
        if action.get("drop"):
            self.close_connection = True
            # RST rather than FIN would need SO_LINGER; a bare close is what a crashed app does.
            self.connection.shutdown(socket.SHUT_RDWR)
            return

        if "write_reply_file" in action:
            reply_path = self.headers.get("BITS-Response-DataFile-Name")
            if reply_path:
                with open(reply_path, "wb") as f:
                    f.write(action["write_reply_file"].encode())

        if "body_b64" in action:
            body = base64.b64decode(action["body_b64"])
        else:
            body = action.get("body", "").encode()
        status = int(action.get("status", 200))
        self.send_response(status)
        for name, value in action.get("headers", {}).items():
            self.send_header(name, value)
        if action.get("static_response_url"):
            self.send_header("BITS-Static-Response-URL", action["static_response_url"])
        if action.get("copy_to_destination"):
            self.send_header("BITS-Copy-File-To-Destination", "true")
        if action.get("close_after_answer"):
            self.close_connection = True  # closes without announcing it (an idle-timeout race)
        if action.get("close_delimited"):
            # As IIS's own back-end answered in [MC-BUP] 4.2: no length, the close ends the body.
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle
    do_HEAD = _handle
    do_DELETE = _handle


class BackendServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True  # a stalled answer never keeps the process alive at shutdown
    allow_reuse_address = True


def start(log_path=None, control_path=None, port=0):
    """Starts a back-end in this process (for tests written in Python); returns the server."""
    server = BackendServer(("127.0.0.1", port), BackendHandler)
    server.state = BackendState(log_path, control_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", help="JSON-lines file that receives every request")
    parser.add_argument("--control", help="JSON control file, re-read when it changes")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 in docker/compose.yaml)")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve https")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    args = parser.parse_args()

    server = BackendServer((args.host, args.port), BackendHandler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.state = BackendState(args.log, args.control)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
