"""Small HTTP/1.1 clients over raw sockets for the benchmark (Python standard library only).

* ``HttpConnection``: one blocking keep-alive connection; ``request`` sends one request and
  reads its response (headers, and a body of ``Content-Length`` bytes).
* ``create_session`` / ``fragment``: the two BITS packets the benchmark drives itself (the
  memory and recovery cases); uploads of files go through ``bits-upload``.
* ``open_idle_connections``: opens many connections at once with non-blocking sockets; each
  sends one request (a BITS Ping) with keep-alive and reads its response, so the connection is
  established at the HTTP level, then stays idle until ``close_all``.
"""

import errno
import selectors
import socket
import time

BITS_PROTOCOL_GUID = "{7df0354d-249b-430f-820d-3d2a9bef4931}"


class HttpError(RuntimeError):
    pass


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())


def parse_head(head):
    """Status code and lower-cased headers of a response head (without the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HttpError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def ping_request(host, path):
    return (f"BITS_POST {path} HTTP/1.1\r\nHost: {host}\r\nBITS-Packet-Type: Ping\r\n"
            f"Content-Length: 0\r\n\r\n").encode("ascii")


class HttpConnection:
    def __init__(self, port, host="127.0.0.1", timeout=30.0):
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method, path, headers=(), body=b""):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return self.read_response()

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise HttpError("connection closed before a response")
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            data = self.sock.recv(65536)
            if not data:
                raise HttpError("connection closed mid-body")
            self.buf += data
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, headers, body)


def create_session(conn, path):
    r = conn.request("BITS_POST", path, [("BITS-Packet-Type", "Create-Session"),
                                         ("BITS-Supported-Protocols", BITS_PROTOCOL_GUID)])
    sid = r.header("BITS-Session-Id")
    if r.status != 200 or not sid:
        raise HttpError(f"Create-Session {path}: {r.status} {r.headers}")
    return sid


def fragment(conn, path, sid, first, data, total):
    last = first + len(data) - 1
    return conn.request("BITS_POST", path, [("BITS-Packet-Type", "Fragment"),
                                            ("BITS-Session-Id", sid),
                                            ("Content-Range", f"bytes {first}-{last}/{total}")],
                        data)


class _Pending:
    __slots__ = ("sock", "out", "buf", "reading")

    def __init__(self, sock, out):
        self.sock = sock
        self.out = out
        self.buf = b""
        self.reading = False


def open_idle_connections(port, count, path, timeout=120.0, in_flight=256):
    """Opens ``count`` connections to 127.0.0.1:port, each with one answered Ping (200).

    Returns the list of open sockets (idle, response fully read). Raises HttpError when a
    connection fails or the whole operation takes longer than ``timeout``.
    """
    request = ping_request(f"127.0.0.1:{port}", path)
    sel = selectors.DefaultSelector()
    established = []
    pending = 0
    started = 0
    deadline = time.monotonic() + timeout
    try:
        while len(established) < count:
            while pending < in_flight and started < count:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                if rc not in (0, errno.EINPROGRESS):
                    s.close()
                    raise HttpError(f"connect #{started}: {errno.errorcode.get(rc, rc)}")
                sel.register(s, selectors.EVENT_WRITE, _Pending(s, request))
                pending += 1
                started += 1
            if time.monotonic() > deadline:
                raise HttpError(f"only {len(established)} of {count} connections after {timeout} s")
            for key, _ in sel.select(timeout=1.0):
                p = key.data
                s = p.sock
                if not p.reading:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise HttpError(f"connect: {errno.errorcode.get(err, err)}")
                    try:
                        n = s.send(p.out)
                    except BlockingIOError:
                        continue
                    p.out = p.out[n:]
                    if not p.out:
                        p.reading = True
                        sel.modify(s, selectors.EVENT_READ, p)
                    continue
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                if not data:
                    raise HttpError(f"connection closed after {len(established)} were established")
                p.buf += data
                if b"\r\n\r\n" in p.buf:
                    head, _, rest = p.buf.partition(b"\r\n\r\n")
                    status, headers = parse_head(head)
                    if status != 200 or int(headers.get("content-length", "-1")) != len(rest):
                        raise HttpError(f"Ping answered {status} {headers}")
                    if headers.get("connection", "").lower() == "close":
                        raise HttpError("Ping answered with Connection: close")
                    sel.unregister(s)
                    established.append(s)
                    pending -= 1
    except BaseException:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        close_all(established)
        raise
    finally:
        sel.close()
    return established


def count_closed(socks):
    """How many of the idle sockets the server has closed (readable = EOF or reset)."""
    sel = selectors.DefaultSelector()
    try:
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        return len(sel.select(timeout=0))
    finally:
        sel.close()


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    socks.clear()
