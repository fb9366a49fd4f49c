"""Serves function/handler.py over HTTP for the watchdog's http mode.

It uses only Python's standard library. It listens on 127.0.0.1 at the port
in $http_port (8082 when unset) and stops on SIGTERM.
"""

import json
import os
import signal
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from function import handler

# Headers the server sets itself; a handler's own values are dropped.
FRAMING_HEADERS = ("content-length", "transfer-encoding", "connection")


class Event:
    """The request as the handler sees it."""

    def __init__(self, request, body):
        url = urlsplit(request.path)
        self.body = body
        self.headers = request.headers  # case-insensitive .get()
        self.method = request.command
        self.path = url.path
        # The first value of each query parameter; query_all has them all.
        self.query_all = parse_qs(url.query, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self.query_all.items()}


class Context:
    """Facts about where the function runs."""

    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def encode_body(body, headers):
    """Turns a handler's body into bytes, JSON-encoding dicts and lists."""
    if body is None:
        return b""
    if isinstance(body, (dict, list)):
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(body).encode()
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return str(body).encode()


def to_response(result):
    """Returns (status, headers, body) for what the handler returned."""
    keys = ("statusCode", "headers", "body")
    if isinstance(result, dict) and any(k in result for k in keys):
        status = int(result.get("statusCode") or 200)
        headers = dict(result.get("headers") or {})
        return status, headers, encode_body(result.get("body"), headers)
    headers = {}
    return 200, headers, encode_body(result, headers)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked(self):
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def serve(self):
        try:
            event = Event(self, self.read_body())
        except ValueError:
            self.send_error(400, "malformed request body")
            return
        try:
            status, headers, body = to_response(handler.handle(event, Context()))
        except Exception:
            traceback.print_exc()
            status, headers = 500, {"Content-Type": "text/plain; charset=utf-8"}
            body = b"the function raised an exception; see its logs\n"
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in FRAMING_HEADERS:
                self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = serve

    def log_message(self, format, *args):
        pass  # the watchdog logs requests


def main():
    port = int(os.environ.get("http_port", "8082"))
    server = ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print("serving on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
