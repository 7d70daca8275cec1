#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets from the real BITS traffic in tests/data/wire/*.json.

For every request there: its head as HTTP text (request line and headers, CRLF, with the
replayed target) for fuzz_request, "method\\ntarget" for fuzz_route, and each Content-Range and
BITS-Session-Id value for fuzz_content_range. Output files are named by the content's SHA-1
(like libFuzzer's own), so running it again changes nothing. The seeds it wrote are committed
under fuzz/corpus/; run it again after adding wire vectors.
"""
import hashlib
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"


def write(target, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("wire-" + hashlib.sha1(data).hexdigest())
    if not path.exists():
        path.write_bytes(data)
        print(path.relative_to(root))


for vector in sorted((root / "tests" / "data" / "wire").glob("*.json")):
    for exchange in json.loads(vector.read_text())["exchanges"]:
        request = exchange.get("request")
        if not request or "method" not in request:
            continue
        target = request.get("replay_target", request["target"])
        lines = [f'{request["method"]} {target} {request.get("version", "HTTP/1.1")}']
        lines += [f"{name}: {value}" for name, value in request["headers"]]
        write("request", ("\r\n".join(lines) + "\r\n\r\n").encode())
        write("route", f'{request["method"]}\n{target}'.encode())
        for name, value in request["headers"]:
            if name.lower() in ("content-range", "bits-session-id"):
                write("content_range", value.encode())
