"""Reading response bodies within limits: size, speed, time and compression.

Every body is read here, a receive at a time (``read1``), so each limit is checked as bytes arrive rather
than after a large read returns:

* **Size.** A body held in memory (JSON, XML, a rendered image, frames, bulk values as bytes, error
  bodies, operations) is refused with :class:`DicomWebResponseTooLargeError` once its *decoded* size passes
  its cap, so memory stays near the cap whatever the server sends. urllib3 (2.6 and newer) decodes
  ``Content-Encoding`` a bounded amount at a time, so a gzip bomb cannot expand in one step.
* **Compression.** DICOM downloads ask for ``Accept-Encoding: identity``. A binary body that arrives
  compressed anyway is decoded only while its decoded size stays within :data:`MAX_DECODED_RATIO` times
  the bytes received (after :data:`RATIO_SLACK`), so a bomb cannot fill a disk.
* **Speed.** Like curl's ``--speed-limit``/``--speed-time``: a body whose bytes arrive slower than
  ``speed_limit`` bytes per second over a whole ``speed_time`` window is cut. A trickle of one byte every
  second never trips a read timeout; this cuts it. The failure is retryable, like a timeout.
* **Time.** A body held in memory must arrive within ``deadline`` seconds.

Transport failures while reading (a connection reset, a chunked body cut short, a bad gzip stream) raise
:class:`DicomWebConnectionError`, which the retry policy tries again.
"""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebResponseTooLargeError

MIB = 1024 * 1024
READ_SIZE = 1024 * 1024
MAX_DECODED_RATIO = 100
RATIO_SLACK = 8 * MIB


@dataclass(frozen=True)
class ResponseLimits:
    """Limits on response bodies (connection extras ``max_response_mib``, ``speed_limit``, ``speed_time``)."""

    max_bytes: int = defaults.MAX_RESPONSE_MIB * MIB
    speed_limit: float = defaults.SPEED_LIMIT
    speed_time: float = defaults.SPEED_TIME

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.speed_limit < 0 or self.speed_time <= 0:
            raise ValueError("max_response_mib and speed_time must be positive, speed_limit not negative")


@dataclass
class Reply:
    """A response whose body was read whole, within the limits: status, headers, body and URL."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.content)


ErrorFactory = Callable[[str, BaseException | None], DicomWebConnectionError]


def iter_body(
    response: requests.Response,
    *,
    what: str,
    error: ErrorFactory,
    limits: ResponseLimits,
    max_bytes: int | None = None,
    deadline: float | None = None,
    binary: bool = False,
) -> Iterator[bytes]:
    """The decoded body of a streamed response, in chunks, within the limits.

    ``what`` names the response in errors (method and URL, without secrets); ``error(message, cause)``
    makes the retryable error of a transport failure. ``max_bytes`` caps the decoded size (None: no cap,
    for bodies written to disk); ``deadline`` caps the seconds the body may take; ``binary`` applies the
    compression-ratio limit to a body that arrives compressed.
    """
    raw = response.raw
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    ratio_checked = binary and encoding not in ("", "identity")
    started = window_start = time.monotonic()
    total = window_bytes = 0
    while True:
        try:
            chunk = raw.read1(READ_SIZE, decode_content=True)
        except (
            urllib3.exceptions.HTTPError,
            requests.RequestException,
            http.client.HTTPException,
            OSError,
        ) as exc:
            raise error(f"{what}: connection broken while reading the response", exc) from None
        if not chunk:
            return
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise DicomWebResponseTooLargeError(
                f"{what}: the response is larger than {max_bytes / MIB:g} MiB once decoded "
                "(raise max_response_mib on the connection if this is expected); refused"
            )
        if ratio_checked and total > RATIO_SLACK and total > MAX_DECODED_RATIO * max(raw.tell(), 1):
            raise DicomWebResponseTooLargeError(
                f"{what}: {encoding}-encoded binary response expands more than {MAX_DECODED_RATIO}-fold "
                f"({raw.tell()} bytes received, {total} decoded), as a compression bomb does; refused"
            )
        now = time.monotonic()
        if deadline is not None and now - started > deadline:
            raise error(f"{what}: the response took longer than {deadline:g} s to arrive", None)
        window_bytes += len(chunk)
        if now - window_start >= limits.speed_time:
            if window_bytes < limits.speed_limit * (now - window_start):
                raise error(
                    f"{what}: the response arrived at {window_bytes / (now - window_start):.0f} bytes/s for "
                    f"{now - window_start:.0f} s, below the floor of {limits.speed_limit:g} bytes/s "
                    f"(speed_limit / speed_time on the connection)",
                    None,
                )
            window_start, window_bytes = now, 0
        yield chunk


def read_body(response: requests.Response, *, max_bytes: int, **kwargs: Any) -> bytes:
    """The whole decoded body, refused once it passes ``max_bytes``."""
    buffer = io.BytesIO()
    for chunk in iter_body(response, max_bytes=max_bytes, **kwargs):
        buffer.write(chunk)
    return buffer.getvalue()
