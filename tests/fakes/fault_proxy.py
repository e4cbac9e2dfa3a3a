"""A fault-injecting HTTP proxy between a client and a real server on loopback (test tooling).

Every request is forwarded to the target (the suite's Orthanc), except that, at the rates given, the
proxy instead:

* ``429`` / ``503``: answers with that status, half the time with ``Retry-After: 0``;
* ``reset``: resets the connection before any response (the request may or may not have been forwarded:
  ``reset_after_forward`` decides);
* ``cut``: forwards, then sends only part of the body and closes, half the time with the full
  Content-Length announced (the client sees an incomplete read) and half the time without (the client
  sees a multipart body with no closing boundary);
* ``short``: forwards a multipart body cut short before its last part (no closing delimiter), as a body
  cut on its way would reach the target, and passes on the target's answer;
* ``stall``: sends the headers, then nothing for ``stall_seconds`` (to hit read timeouts);
* ``trickle``: sends the response in small pieces with a pause between them.

Faults are drawn from a seeded random generator, at most ``max_faults`` of them, and only until
``deadline`` seconds after the start: the proxy is bounded in count and time and then passes everything
through. ``force`` lists faults to inject on the next requests (of ``methods``, if given) whatever the
rates. It also counts the
instances that reach the target in STOW requests (``stored_parts``) and can be made to serve TLS.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "503", "reset", "cut", "short", "stall", "trickle")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    def __init__(
        self,
        target_port: int,
        rates: dict[str, float] | None = None,
        *,
        seed: int = 1,
        max_faults: int = 10_000,
        deadline: float = 600.0,
        stall_seconds: float = 3.0,
        trickle_pause: float = 0.01,
        methods: tuple[str, ...] | None = None,
        reset_after_forward: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        unknown = set(rates or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        self.target_port = target_port
        self.rates = dict(rates or {})
        self.random = random.Random(seed)
        self.max_faults = max_faults
        self.deadline = deadline
        self.stall_seconds = stall_seconds
        self.trickle_pause = trickle_pause
        self.methods = methods
        self.reset_after_forward = reset_after_forward
        self.force: list[str] = []
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.stored_parts = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.handle(self, body)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    @property
    def faults(self) -> int:
        return sum(self.injected.values())

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- deciding -----------------------------------------------------------------------------------

    def _draw(self, method: str) -> str | None:
        with self._lock:
            self.requests += 1
            if self.methods and method not in self.methods:
                return None
            if self.force:
                fault = self.force.pop(0)
                self.injected[fault] += 1
                return fault
            if self.faults >= self.max_faults or time.monotonic() - self._started > self.deadline:
                return None
            roll = self.random.random()
            for fault in FAULTS:
                rate = self.rates.get(fault, 0.0)
                if roll < rate:
                    self.injected[fault] += 1
                    return fault
                roll -= rate
            return None

    # --- serving ------------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        fault = self._draw(handler.command)
        if fault in ("429", "503"):
            payload = b'{"error": {"code": %s, "message": "injected"}}' % fault.encode()
            handler.send_response(int(fault))
            if self.random.random() < 0.5:
                handler.send_header("Retry-After", "0")
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if fault == "reset" and not self.reset_after_forward:
            self._reset(handler)
            return
        status, headers, data = self._forward(handler, _without_last_part(body) if fault == "short" else body)
        if fault == "reset":
            self._reset(handler)
            return
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        announce = fault != "cut" or self.random.random() < 0.5
        if announce:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if fault == "cut":
            handler.wfile.write(data[: max(1, len(data) // 2)])
            handler.wfile.flush()
            handler.close_connection = True
            self._reset(handler)
        elif fault == "stall":
            handler.wfile.flush()
            time.sleep(self.stall_seconds)
            handler.close_connection = True
        elif fault == "trickle":
            step = max(1, len(data) // 20)
            for i in range(0, len(data), step):
                handler.wfile.write(data[i : i + step])
                handler.wfile.flush()
                time.sleep(self.trickle_pause)
        else:
            handler.wfile.write(data)
        if not announce:
            handler.close_connection = True

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=120)
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in HOP_BY_HOP | {"host", "content-length"}
        }
        conn.request(handler.command, handler.path, body=body or None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if handler.command == "POST" and response.status == 200:
            with self._lock:
                self.stored_parts += body.count(b"Content-Type: application/dicom\r\n")
        return response.status, response.getheaders(), data

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        sock = handler.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        with contextlib.suppress(OSError):
            sock.close()


def _without_last_part(body: bytes) -> bytes:
    """A multipart body up to the delimiter of its last part: the parts before it whole, no closing
    delimiter."""
    first_line = body.split(b"\r\n", 1)[0]  # the first delimiter: --boundary
    return body[: body.rindex(b"\r\n" + first_line + b"\r\n")]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # connections this proxy resets on purpose end in errors: not worth a traceback
