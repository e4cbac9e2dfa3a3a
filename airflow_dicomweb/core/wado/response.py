"""Decoding a WADO-RS response: multipart/related (or one single part) into events, or into parts in memory.

Bodies written to files are decoded as they arrive, with no cap; parts held in memory (frames, bulk values
as bytes, XML metadata) are capped at ``max_response_mib`` together.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import requests

from airflow_dicomweb.core.errors import DicomWebResponseError, DicomWebResponseTooLargeError
from airflow_dicomweb.core.http.transport import IDENTITY, Transport
from airflow_dicomweb.core.media_types import MULTIPART_RELATED, OCTET_STREAM, parse_content_type
from airflow_dicomweb.core.multipart.reader import MultipartEvent, PartEnd, PartStart, iter_multipart


def _single_part(chunks: Iterator[bytes], content_type: str) -> Iterator[MultipartEvent]:
    """Events for a single-part (non-multipart) response, so one writer serves both forms."""
    yield PartStart(0, {"content-type": content_type})
    size = 0
    for chunk in chunks:
        size += len(chunk)
        yield memoryview(chunk)
    yield PartEnd(0, size)


class WadoResponses:
    """Decoding WADO-RS responses of one ``transport``, shared by the retrieve transactions."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def events(
        self, response: requests.Response, url: str, expect: str, max_bytes: int | None = None
    ) -> Iterator[MultipartEvent]:
        """Decode a response as multipart (or a single part of type ``expect``) into events.

        ``max_bytes`` caps the body for callers that hold it in memory; files on disk have no cap.
        """
        content_type = response.headers.get("Content-Type", "")
        media_type, params = parse_content_type(content_type)
        chunks = self.transport.body(response, max_bytes=max_bytes)
        if media_type == MULTIPART_RELATED:
            boundary = params.get("boundary")
            if not boundary:
                raise DicomWebResponseError(f"GET {url}: multipart response without a boundary", url=url)
            return iter_multipart(chunks, boundary)
        if media_type == expect:
            return _single_part(chunks, content_type)
        raise DicomWebResponseError(
            f"GET {url}: expected multipart/related or {expect}, got {content_type or 'no Content-Type'!r}",
            url=url,
        )

    def fetch_parts(self, url: str, accept: str, single_type: str = OCTET_STREAM) -> list[bytes]:
        """Every part of a response, in memory: their data together may not pass ``max_response_mib``."""
        safe_url = self.transport.redact(url)
        cap = self.transport.limits.max_bytes

        def attempt() -> list[bytes]:
            response = self.transport.send("GET", url, headers={"Accept": accept, **IDENTITY})
            try:
                parts: list[bytes] = []
                current = io.BytesIO()
                held = 0
                # The body is capped at a little over the data (part headers and delimiters count too).
                for event in self.events(response, safe_url, single_type, max_bytes=2 * cap):
                    if isinstance(event, PartStart):
                        current = io.BytesIO()
                    elif isinstance(event, PartEnd):
                        parts.append(current.getvalue())
                    else:
                        held += len(event)
                        if held > cap:
                            raise DicomWebResponseTooLargeError(
                                f"GET {safe_url}: the parts are larger than {cap / 2**20:g} MiB in all "
                                "(raise max_response_mib on the connection if this is expected); refused"
                            )
                        current.write(event)
                return parts
            finally:
                response.close()

        return self.transport.retry(attempt)
