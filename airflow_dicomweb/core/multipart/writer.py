"""Streaming encoder of ``multipart/related`` request bodies (STOW-RS, PS3.18 section 10.5).

:class:`MultipartBody` is handed to ``requests`` as the request body. It knows its length up front (so
the request carries a Content-Length and no chunked encoding). A file of this machine goes as a
:class:`FileRegion`, which the connection hands to the kernel (``sendfile``); other files are read in
fixed-size blocks while the request is sent, so memory does not grow with the number or size of files.
Iterating it again starts over from the first byte: a retried request re-sends the whole body, never an empty one.
"""

from __future__ import annotations

import os
import socket
import ssl
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.storage.paths import Destination, StoragePath, as_path, is_remote, open_read, size

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

    def __iter__(self) -> Iterator[bytes | memoryview | FileRegion]:
        """The body as the HTTP connection sends it: a part from a file of this machine as a
        :class:`FileRegion` (the kernel sends it where the connection can, else it reads itself in
        blocks), everything else as bytes."""
        for part in self.parts:
            yield part.header_bytes(self._boundary)
            if (
                part.source is not None
                and part.data is None
                and part.chunks is None
                and not is_remote(part.source)
            ):
                yield FileRegion(part.source, part.size, self.block_size)
            else:
                yield from self._part_bytes(part)
            yield CRLF
        yield self._closing

    def iter_bytes(self) -> Iterator[bytes | memoryview]:
        """The body's bytes, each file read in blocks (what a signature over the body reads)."""
        for part in self.parts:
            yield part.header_bytes(self._boundary)
            yield from self._part_bytes(part)
            yield CRLF
        yield self._closing

    def _part_bytes(self, part: BodyPart) -> Iterator[bytes | memoryview]:
        if part.data is not None:
            yield part.data
        elif part.chunks is not None:
            yield from part.chunks
        else:
            assert part.source is not None
            yield from file_blocks(part.source, part.size, self.block_size)


def file_blocks(source: StoragePath, expected: int, block_size: int) -> Iterator[memoryview]:
    """A file's bytes in blocks of one reused buffer (each block is sent before the next is read); an
    :class:`InputChangedError` when it does not hold ``expected`` bytes."""
    buffer = bytearray(max(1, min(block_size, expected)))  # a small file gets a small buffer
    view = memoryview(buffer)
    sent = 0
    with open_read(source, unbuffered=True) as handle:
        while True:
            n = handle.readinto(buffer)  # type: ignore[attr-defined]
            if not n:
                break
            sent += n
            if sent > expected:
                break
            yield view[:n]
    if sent != expected:
        raise InputChangedError(
            f"{source}: file changed while being sent ({expected} bytes expected, {sent} read)"
        )


class FileRegion:
    """A file of this machine within a body being sent. A connection that knows it hands the file to the
    kernel (``socket.sendfile``: no byte passes through this process on a plain TCP connection, and TLS
    sockets fall back to sending blocks); any other iterates it and sends its blocks."""

    __slots__ = ("block_size", "size", "source")

    def __init__(self, source: StoragePath, size: int, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        self.source = source
        self.size = size
        self.block_size = block_size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[memoryview]:
        return file_blocks(self.source, self.size, self.block_size)

    def send_to(self, sock: socket.socket) -> None:
        """The file's bytes onto ``sock``; an :class:`InputChangedError` when it no longer holds ``size``.
        A TLS socket is sent blocks (the kernel cannot encrypt, and Python's own fallback reads 8 KiB at a
        time)."""
        if isinstance(sock, ssl.SSLSocket):
            for block in self:
                sock.sendall(block)
            return
        with open_read(self.source, unbuffered=True) as handle:
            found = os.fstat(handle.fileno()).st_size
            sent = sock.sendfile(handle, 0, self.size) if found == self.size else found
        if sent != self.size:
            raise InputChangedError(
                f"{self.source}: file changed while being sent ({self.size} bytes expected, {sent} read)"
            )
