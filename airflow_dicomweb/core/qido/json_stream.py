"""A JSON array read element by element as its bytes arrive: a big QIDO-RS answer is never held whole.

``iter_json_array(chunks, what)`` yields each element of a top-level JSON array as soon as it is
complete. Only the element being read is buffered. An element cut across chunks is decoded once enough has
arrived; the buffer at least doubles between attempts, so a huge element costs linear, not quadratic,
time. Anything that is not an array of JSON objects is a :class:`DicomWebResponseError` naming ``what``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_MIN_READ = 64 * 1024


class _Buffer:
    """Decoded text not yet consumed, refilled from the chunks on demand."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.source = iter(chunks)
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self.text = ""
        self.pos = 0
        self.eof = False

    def available(self) -> int:
        return len(self.text) - self.pos

    def fill(self, wanted: int) -> None:
        """Read until ``wanted`` characters are available, or the body ends."""
        parts = [self.text[self.pos :]]
        have = len(parts[0])
        while not self.eof and have < wanted:
            chunk = next(self.source, None)
            if chunk is None:
                self.eof = True
                parts.append(self.utf8.decode(b"", final=True))
            else:
                parts.append(self.utf8.decode(chunk))
            have += len(parts[-1])
        self.text, self.pos = "".join(parts), 0  # one join: appending chunk by chunk would be quadratic

    def skip_whitespace(self) -> None:
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text) or self.eof:
                return
            self.fill(1)

    def start(self, size: int = 120) -> bytes:
        self.fill(size)
        return self.text[self.pos : self.pos + size].encode()


def iter_json_array(chunks: Iterable[bytes], what: str) -> Iterator[dict[str, Any]]:
    """The objects of the JSON array in ``chunks``; an empty body is an empty array (HTTP 204)."""
    decoder = json.JSONDecoder()
    buffer = _Buffer(chunks)
    try:
        buffer.skip_whitespace()
        if buffer.available() == 0:
            return
        first = buffer.text[buffer.pos]
        if first != "[":
            if first == "{":
                raise DicomWebResponseError(f"{what}: QIDO-RS response is not a JSON array of datasets")
            raise DicomWebResponseError(f"{what}: QIDO-RS response is not JSON; it starts {buffer.start()!r}")
        buffer.pos += 1
        count = 0
        while True:
            buffer.skip_whitespace()
            if buffer.available() == 0:
                raise DicomWebResponseError(f"{what}: QIDO-RS response is not JSON: it ends inside the array")
            if buffer.text[buffer.pos] == "]":
                buffer.pos += 1
                buffer.skip_whitespace()
                if buffer.available():
                    raise DicomWebResponseError(f"{what}: QIDO-RS response is not JSON: data after the array")
                return
            if count:
                if buffer.text[buffer.pos] != ",":
                    raise DicomWebResponseError(
                        f"{what}: QIDO-RS response is not JSON: expected ',' after element {count}"
                    )
                buffer.pos += 1
                buffer.skip_whitespace()
            value = _decode_one(decoder, buffer, what, count)
            if not isinstance(value, dict):
                raise DicomWebResponseError(f"{what}: QIDO-RS response is not a JSON array of datasets")
            count += 1
            yield value
    except UnicodeDecodeError:
        raise DicomWebResponseError(f"{what}: QIDO-RS response is not UTF-8 JSON") from None


def _decode_one(decoder: json.JSONDecoder, buffer: _Buffer, what: str, index: int) -> Any:
    while True:
        try:
            value, end = decoder.raw_decode(buffer.text, buffer.pos)
        except (ValueError, RecursionError):  # incomplete so far, or nested deeper than Python decodes
            value, end = None, -1
        # a value that reaches the end of what arrived may go on (a number): wait for more unless ended
        if end != -1 and (end < len(buffer.text) or buffer.eof):
            buffer.pos = end
            return value
        if buffer.eof:
            raise DicomWebResponseError(f"{what}: QIDO-RS response is not JSON: element {index} is malformed")
        have = buffer.available()
        buffer.fill(max(2 * have, have + _MIN_READ))
