"""A scriptable HTTP server on loopback, for protocol cases a real server will not produce on demand.

Each test gives a handler ``fn(request) -> (status, headers, body)`` where ``request`` has ``method``,
``path``, ``query``, ``headers`` and ``body``; every request is recorded. ``body`` may be bytes or an
iterable of bytes (sent as it comes, with ``Connection: close`` when no Content-Length is given).

A handler that sets ``Content-Length`` or ``Transfer-Encoding`` itself gets its body written exactly as
given, so it can lie: announce more bytes than it sends, or cut a chunked body, then close.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request], tuple[int, dict[str, str], bytes | Iterable[bytes]]]


class FakeServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parts.query, dict(self.headers.items()), body)
                outer.requests.append(request)
                status, headers, payload = outer.handler(request)
                self.send_response(status)
                streamed = not isinstance(payload, bytes | bytearray)
                framed_by_handler = any(k.lower() in ("content-length", "transfer-encoding") for k in headers)
                for name, value in headers.items():
                    self.send_header(name, value)
                if framed_by_handler:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                elif not streamed:
                    self.send_header("Content-Length", str(len(payload)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    if streamed:
                        for chunk in payload:
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up, as it should

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=lambda: self.server.serve_forever(poll_interval=0.05), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
