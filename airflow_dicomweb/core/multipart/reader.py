"""Streaming decoder of ``multipart/related`` bodies (RFC 2046 section 5.1, RFC 2387).

The decoder reads an iterator of byte chunks (an HTTP response as it arrives) and yields events: a
:class:`PartStart` with the part's headers, then the part's data as ``memoryview`` slices, then a
:class:`PartEnd`. Memory is bounded by the size of one incoming chunk plus the delimiter, whatever the
size of a part or of the whole body: a part's data is never gathered by the decoder.

A ``memoryview`` handed out is only valid until the next event is asked for; copy it (``bytes(view)``)
or write it out before moving on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from airflow_dicomweb.core.errors import MultipartError

CRLF = b"\r\n"
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_PREAMBLE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PartStart:
    """A part begins. ``headers`` has lower-cased names."""

    index: int
    headers: dict[str, str]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class PartEnd:
    """A part ended after ``size`` bytes of data."""

    index: int
    size: int


MultipartEvent = PartStart | PartEnd | memoryview


def parse_part_headers(block: bytes, index: int) -> dict[str, str]:
    """Parse the header block of part ``index`` (lines separated by CRLF)."""
    headers: dict[str, str] = {}
    if not block:
        return headers
    for raw_line in block.split(CRLF):
        if not raw_line:
            continue
        if raw_line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            last = next(reversed(headers))
            headers[last] += " " + raw_line.strip().decode("latin-1")
            continue
        name, sep, value = raw_line.partition(b":")
        if not sep or not name.strip():
            raise MultipartError(f"part {index}: malformed header line {raw_line[:100]!r}")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def iter_multipart(
    chunks: Iterable[bytes],
    boundary: str,
    *,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_preamble_bytes: int = DEFAULT_MAX_PREAMBLE_BYTES,
) -> Iterator[MultipartEvent]:
    """Decode a multipart body from ``chunks``, yielding :class:`PartStart`, data, :class:`PartEnd`.

    Raises :class:`MultipartError` on a missing closing boundary (a body cut short), a header block
    larger than ``max_header_bytes``, or a preamble larger than ``max_preamble_bytes``.
    """
    if not boundary or len(boundary) > 200:
        raise MultipartError(f"invalid multipart boundary {boundary[:80]!r}")
    delimiter = CRLF + b"--" + boundary.encode("latin-1")
    keep = len(delimiter) - 1  # bytes that might be the start of a delimiter split across chunks
    source = iter(chunks)
    # The first delimiter may open the body without a preceding CRLF: pretend one was there.
    buf = CRLF
    pos = 0  # start of unconsumed data in buf
    exhausted = False

    def more() -> bool:
        """Append the next non-empty chunk to the unconsumed data; False at the end of input."""
        nonlocal buf, pos, exhausted
        for chunk in source:
            if chunk:
                buf = buf[pos:] + chunk if pos < len(buf) else bytes(chunk)
                pos = 0
                return True
        exhausted = True
        return False

    # Preamble: skip to the first delimiter.
    skipped = 0
    while True:
        found = buf.find(delimiter, pos)
        if found >= 0:
            pos = found + len(delimiter)
            break
        skipped += max(0, len(buf) - pos - keep)
        if skipped > max_preamble_bytes:
            raise MultipartError(f"no multipart boundary within the first {max_preamble_bytes} bytes")
        pos = max(pos, len(buf) - keep)
        if not more():
            raise MultipartError("no multipart boundary found in the body (empty or not multipart)")

    index = 0
    while True:
        # After a delimiter: "--" closes the body, else transport padding then CRLF opens a part.
        while len(buf) - pos < 2 and not exhausted:
            more()
        if buf[pos : pos + 2] == b"--":
            return  # the epilogue, if any, is ignored
        line_end = buf.find(CRLF, pos)
        while line_end < 0:
            if len(buf) - pos > 1024:
                raise MultipartError(f"part {index}: garbage after the boundary")
            if not more():
                raise MultipartError(
                    f"part {index}: body ends right after a boundary (missing closing boundary)",
                    retryable=True,
                )
            line_end = buf.find(CRLF, pos)
        if buf[pos:line_end].strip(b" \t"):
            raise MultipartError(
                f"part {index}: unexpected bytes after the boundary {buf[pos:line_end][:40]!r}"
            )
        pos = line_end + 2

        # Header block, ended by an empty line. It may be empty: then the part starts with CRLF.
        while len(buf) - pos < 2:
            if not more():
                raise MultipartError(f"part {index}: body ends inside the part headers", retryable=True)
        if buf[pos : pos + 2] == CRLF:
            header_block = b""
            pos += 2
        else:
            search_from = pos
            while True:
                end = buf.find(CRLF + CRLF, search_from)
                if end >= 0:
                    header_block = buf[pos:end]
                    pos = end + 4
                    break
                if len(buf) - pos > max_header_bytes:
                    raise MultipartError(f"part {index}: header block larger than {max_header_bytes} bytes")
                # more() moves the unconsumed bytes to the front: rescan only the last 3 of them.
                remaining = len(buf) - pos
                if not more():
                    raise MultipartError(f"part {index}: body ends inside the part headers", retryable=True)
                search_from = max(0, remaining - 3)
        if len(header_block) > max_header_bytes:
            raise MultipartError(f"part {index}: header block larger than {max_header_bytes} bytes")
        yield PartStart(index, parse_part_headers(header_block, index))

        # Data up to the next delimiter. Chunks are searched and handed out as they are, without copying:
        # only the junction of the few unconsumed bytes and the next chunk is joined to look for a
        # delimiter that straddles them.
        size = 0
        while True:
            found = buf.find(delimiter, pos)
            if found >= 0:
                if found > pos:
                    size += found - pos
                    yield memoryview(buf)[pos:found]
                pos = found + len(delimiter)
                break
            safe_end = len(buf) - keep
            if safe_end > pos:
                size += safe_end - pos
                yield memoryview(buf)[pos:safe_end]
                pos = safe_end
            tail = buf[pos:]
            chunk = next((c for c in source if c), None)
            if chunk is None:
                exhausted = True
                raise MultipartError(
                    f"part {index}: body ends without its closing boundary after {size + len(tail)} bytes "
                    "(response cut short?)",
                    retryable=True,
                )
            if not tail or len(chunk) < len(delimiter):
                buf, pos = (tail + chunk if tail else chunk), 0
                continue
            junction = tail + chunk[: len(delimiter)]
            at = junction.find(delimiter)
            if at >= 0:
                if at:
                    size += at
                    yield memoryview(junction)[:at]
                buf, pos = chunk, at + len(delimiter) - len(tail)
                break
            size += len(tail)
            yield memoryview(tail)
            buf, pos = chunk, 0
        yield PartEnd(index, size)
        index += 1
