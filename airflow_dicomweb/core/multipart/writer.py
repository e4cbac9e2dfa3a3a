"""Streaming encoder of ``multipart/related`` request bodies (STOW-RS, PS3.18 section 10.5).

:class:`MultipartBody` is handed to ``requests`` as the request body. It knows its length up front (so
the request carries a Content-Length and no chunked encoding) and reads files from disk in fixed-size
blocks while the request is sent, so memory does not grow with the number or size of files. Iterating it
again starts over from the first byte: a retried request re-sends the whole body, never an empty one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.storage.paths import Destination, StoragePath, as_path, open_read, size

CRLF = b"\r\n"
DEFAULT_BLOCK_SIZE = 1024 * 1024


class InputChangedError(DicomWebError):
    """A file changed size between being measured and being sent."""


@dataclass(frozen=True)
class BodyPart:
    """One part: its Content-Type, extra headers, and data from a file or object (``source``) or memory
    (``data``, or ``chunks`` sent one after the other)."""

    content_type: str
    source: StoragePath | None = None
    data: bytes | None = None
    chunks: tuple[bytes | memoryview, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    size: int = -1

    @classmethod
    def from_file(cls, path: Destination, content_type: str, **headers: str) -> BodyPart:
        source = as_path(path)
        return cls(content_type=content_type, source=source, size=size(source), headers=headers)

    @classmethod
    def from_bytes(cls, data: bytes, content_type: str, **headers: str) -> BodyPart:
        return cls(content_type=content_type, data=bytes(data), size=len(data), headers=headers)

    def header_bytes(self, boundary: bytes) -> bytes:
        lines = [b"--" + boundary, b"Content-Type: " + self.content_type.encode("latin-1")]
        for name, value in self.headers.items():
            lines.append(f"{name.replace('_', '-')}: {value}".encode("latin-1"))
        return CRLF.join(lines) + CRLF + CRLF


class MultipartBody:
    """A re-iterable, length-known ``multipart/related`` body built from :class:`BodyPart` items."""

    def __init__(
        self,
        parts: Sequence[BodyPart],
        *,
        part_type: str,
        boundary: str | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        if not parts:
            raise ValueError("a multipart body needs at least one part")
        self.parts = list(parts)
        self.part_type = part_type
        self.boundary = boundary or f"dicomweb-{uuid.uuid4().hex}"
        self.block_size = block_size
        self._boundary = self.boundary.encode("ascii")
        self._closing = b"--" + self._boundary + b"--" + CRLF
        self._length = sum(len(p.header_bytes(self._boundary)) + p.size + 2 for p in self.parts) + len(
            self._closing
        )

    @property
    def content_type(self) -> str:
        return f'multipart/related; type="{self.part_type}"; boundary={self.boundary}'

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes | memoryview]:
        buffer = bytearray(self.block_size)
        view = memoryview(buffer)
        for part in self.parts:
            yield part.header_bytes(self._boundary)
            if part.data is not None:
                yield part.data
            elif part.chunks is not None:
                yield from part.chunks
            else:
                assert part.source is not None
                yield from self._file_blocks(part, buffer, view)
            yield CRLF
        yield self._closing

    @staticmethod
    def _file_blocks(part: BodyPart, buffer: bytearray, view: memoryview) -> Iterator[memoryview]:
        """The file's bytes in blocks. The buffer is reused: each block is sent before the next is read."""
        sent = 0
        assert part.source is not None
        with open_read(part.source, unbuffered=True) as handle:
            while True:
                n = handle.readinto(buffer)  # type: ignore[attr-defined]
                if not n:
                    break
                sent += n
                if sent > part.size:
                    break
                yield view[:n]
        if sent != part.size:
            raise InputChangedError(
                f"{part.source}: file changed while being sent ({part.size} bytes expected, {sent} read)"
            )
