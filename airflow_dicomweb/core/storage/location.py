"""Where files are read from and written to: this machine's filesystem, or any fsspec filesystem (S3, GCS...).

A :class:`Location` is a path, with the fsspec filesystem it lives on (None for this machine). The core
takes them wherever it takes files, and knows nothing of who made the filesystem: the Airflow layer turns an
``ObjectStoragePath`` into one (its credentials come from its own connection), the command line a URL.

Writes are atomic: an object or file appears only once complete. On this machine a temporary file in the
target's folder is renamed into place. On a filesystem whose files can be committed or discarded (S3's
multipart uploads, GCS's resumable uploads), the object is written in place with ``autocommit=False`` and
committed last, so no byte is written twice; elsewhere a temporary key is written, then moved.

Every failure of the filesystem (a missing bucket, refused credentials) is a :class:`DicomWebStorageError`
naming the URL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fsspec import AbstractFileSystem
from fsspec.spec import AbstractBufferedFile

from airflow_dicomweb.core.errors import DicomWebStorageError

#: Read and upload block size on object stores: few requests, bounded memory.
BLOCK_SIZE = 8 * 1024 * 1024
#: Temporary files are named TEMP_PREFIX + writer's pid + "-" + a random id + TEMP_SUFFIX.
TEMP_PREFIX = ".dicomweb-"
TEMP_SUFFIX = ".partial"
#: Temporary names on this machine: the process id (read by the cleanup of a killed run), a token of this
#: process and a counter; unique without a random draw per file.
_TEMP_TOKEN = uuid.uuid4().hex[:12]
_TEMP_COUNTER = itertools.count()
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_GLOB_CHARS = frozenset("*?[")


def _is_local_fs(fs: AbstractFileSystem | None) -> bool:
    if fs is None:
        return True
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return any(p in ("file", "local") for p in protocols)


@dataclass(frozen=True, slots=True)
class Location:
    """A file or folder: ``path`` on ``fs``, or on this machine when ``fs`` is None.

    ``url_prefix`` is how the filesystem is written before a path in messages and results (``s3://``, or
    ``s3://conn_id@`` when an Airflow connection names it), so a result can be turned back into a location.
    """

    path: str
    fs: AbstractFileSystem | None = None
    url_prefix: str = ""

    def __post_init__(self) -> None:
        if self.fs is not None and _is_local_fs(self.fs):
            object.__setattr__(self, "fs", None)  # fsspec's local filesystem is this machine's
            object.__setattr__(self, "url_prefix", "file://" if self.url_prefix else "")

    @classmethod
    def of(cls, value: Location | str | os.PathLike[str]) -> Location:
        """A location from a local path (or a location, returned as it is)."""
        return value if isinstance(value, Location) else cls(os.fspath(value))

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> Location:
        """A location from a URL (``s3://bucket/key``), a ``file://`` URL or a local path, through fsspec."""
        if "://" not in url:
            return cls(url)
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(url, **storage_options)
        return cls(path, fs, url.split("://", 1)[0] + "://")

    # --- naming -----------------------------------------------------------------------------------

    @property
    def is_local(self) -> bool:
        return self.fs is None

    @property
    def url(self) -> str:
        if self.fs is None:
            return self.url_prefix + self.path  # a plain path, or file:// when it was given so
        return (self.url_prefix or f"{_protocol(self.fs)}://") + self.path

    def __str__(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/")) if self.fs else Path(self.path).name

    @property
    def parent(self) -> Location:
        if self.fs is None:
            return Location(str(Path(self.path).parent), url_prefix=self.url_prefix)
        return Location(posixpath.dirname(self.path.rstrip("/")), self.fs, self.url_prefix)

    def join(self, *parts: str) -> Location:
        if self.fs is None:
            return Location(os.path.join(self.path, *parts), url_prefix=self.url_prefix)
        return Location(posixpath.join(self.path.rstrip("/"), *parts), self.fs, self.url_prefix)

    def local_path(self) -> Path:
        if self.fs is not None:
            raise ValueError(f"{self.url} is not on this machine")
        return Path(self.path)

    def native(self) -> Path | Location:
        """As results are handed to callers: a :class:`~pathlib.Path` on this machine, else the location."""
        return Path(self.path) if self.fs is None else self

    def relative_to(self, other: Location) -> str:
        """This location's path below ``other``'s, with ``/`` separators."""
        if self.fs is None:
            return Path(self.path).relative_to(other.path).as_posix()
        return posixpath.relpath(self.path, other.path.rstrip("/"))

    # --- reading ----------------------------------------------------------------------------------

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        return _storage_errors(self.url, action)

    def exists(self) -> bool:
        if self.fs is None:
            return os.path.exists(self.path)
        with self._guard("look up"):
            self.fs.invalidate_cache(self.path)
            return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        if self.fs is None:
            return os.path.isdir(self.path)
        with self._guard("look up"):
            return bool(self.fs.isdir(self.path))

    def is_file(self) -> bool:
        if self.fs is None:
            return os.path.isfile(self.path)
        with self._guard("look up"):
            return bool(self.fs.isfile(self.path))

    def size(self) -> int:
        if self.fs is None:
            return os.stat(self.path).st_size
        with self._guard("look up"):
            return int(self.fs.size(self.path))

    def open_read(self, *, unbuffered: bool = False) -> BinaryIO:
        """A binary file object; on an object store, read in large blocks ahead. ``unbuffered`` (this
        machine only) suits a reader of large blocks of its own."""
        if self.fs is None:
            return open(self.path, "rb", buffering=0 if unbuffered else -1)
        with self._guard("open"):
            return self.fs.open(self.path, "rb", block_size=BLOCK_SIZE, cache_type="readahead")

    def files(self) -> list[tuple[Location, int]]:
        """Every file below this folder, recursively, with its size, in a stable order."""
        if self.fs is None:
            out = []
            for root, dirs, names in os.walk(self.path):
                dirs.sort()
                for name in sorted(names):
                    path = os.path.join(root, name)
                    if os.path.isfile(path):
                        out.append((Location(path, url_prefix=self.url_prefix), os.stat(path).st_size))
            return out
        with self._guard("list"):
            self.fs.invalidate_cache(self.path)  # another process may have written there since
            found = self.fs.find(self.path, detail=True)
        return [
            (Location(path, self.fs, self.url_prefix), int(info.get("size") or 0))
            for path, info in sorted(found.items())
            if info.get("type", "file") == "file"
        ]

    def glob(self) -> list[tuple[Location, int]]:
        """The files this location's path matches as a pattern (``**`` recursive), with their sizes."""
        if self.fs is None:
            import glob

            paths = [p for p in sorted(glob.glob(self.path, recursive=True)) if os.path.isfile(p)]
            return [(Location(p), os.stat(p).st_size) for p in paths]
        with self._guard("list"):
            self.fs.invalidate_cache()
            found = self.fs.glob(self.path, detail=True)
        return [
            (Location(path, self.fs, self.url_prefix), int(info.get("size") or 0))
            for path, info in sorted(found.items())
            if info.get("type", "file") == "file"
        ]

    @property
    def is_pattern(self) -> bool:
        return any(c in _GLOB_CHARS for c in self.path)

    # --- writing ----------------------------------------------------------------------------------

    def writer(self) -> AtomicWriter:
        """An atomic writer of this file: nothing appears here until it is committed."""
        return AtomicWriter(self)

    def write_atomically(self, data: bytes) -> Location:
        with self.writer() as out:
            out.write(data)
        return self

    def remove(self) -> None:
        if self.fs is None:
            Path(self.path).unlink(missing_ok=True)
            return
        with self._guard("remove"), contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path)

    def move_to(self, target: Location) -> None:
        if self.fs is None:
            Path(target.path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, target.path)
            return
        with self._guard("move"):
            self.fs.mv(self.path, target.path)


def _protocol(fs: AbstractFileSystem) -> str:
    protocol = fs.protocol
    return str(protocol[0] if isinstance(protocol, tuple | list) else protocol)


@contextlib.contextmanager
def _storage_errors(url: str, action: str) -> Iterator[None]:
    """Filesystem failures as :class:`DicomWebStorageError`, naming the URL and the reason."""
    try:
        yield
    except DicomWebStorageError:
        raise
    except FileNotFoundError as exc:
        raise DicomWebStorageError(f"{url}: cannot {action}: not found ({_reason(exc)})", url=url) from None
    except PermissionError as exc:
        raise DicomWebStorageError(
            f"{url}: cannot {action}: access refused ({_reason(exc)})", url=url
        ) from None
    except (OSError, ValueError) as exc:
        raise DicomWebStorageError(
            f"{url}: cannot {action}: {type(exc).__name__}: {_reason(exc)}", url=url
        ) from None
    except Exception as exc:  # an object store's client raises its own kinds (botocore, google-api-core)
        if type(exc).__module__.split(".")[0] in (
            "botocore",
            "aiobotocore",
            "google",
            "gcsfs",
            "s3fs",
            "adlfs",
        ):
            raise DicomWebStorageError(
                f"{url}: cannot {action}: {type(exc).__name__}: {_reason(exc)}", url=url
            ) from None
        raise


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."


class AtomicWriter:
    """Writes one file or object so that it appears only when :meth:`commit` is called.

    Used as a context manager, it commits when the block ends normally and discards on an exception.
    """

    def __init__(self, target: Location) -> None:
        self.target = target
        self._temp: Location | None = None
        self._handle: Any = None
        self._deferred_commit = False
        self._fd = -1
        with _storage_errors(target.url, "write"):
            if target.fs is None:
                # On this machine: a descriptor of a temporary file beside the target, renamed at commit.
                # The folder is made only when the file cannot be created (one syscall per file, not three).
                folder = os.path.dirname(target.path) or "."
                temp = os.path.join(
                    folder, f"{TEMP_PREFIX}{os.getpid()}-{_TEMP_TOKEN}{next(_TEMP_COUNTER)}{TEMP_SUFFIX}"
                )
                try:
                    self._fd = os.open(temp, _CREATE, 0o666)
                except FileNotFoundError:
                    os.makedirs(folder, exist_ok=True)
                    self._fd = os.open(temp, _CREATE, 0o666)
                self._temp = Location(temp)
                return
            handle = target.fs.open(target.path, "wb", autocommit=False, block_size=BLOCK_SIZE)
            if _commits(handle):
                self._handle, self._deferred_commit = handle, True
                return
            handle.close()  # this filesystem cannot defer: write a temporary key, then move it
            self._temp = target.parent.join(f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}")
            self._handle = target.fs.open(self._temp.path, "wb", block_size=BLOCK_SIZE)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._fd >= 0:  # the hot path of a retrieve: no context manager per call
            try:
                written = os.write(self._fd, data)
                if written < len(data):  # a regular file takes it all at once, unless interrupted or full
                    view = memoryview(data)[written:]
                    while view:
                        view = view[os.write(self._fd, view) :]
            except OSError:
                with _storage_errors(self.target.url, "write"):
                    raise
            return
        with _storage_errors(self.target.url, "write"):
            self._handle.write(data)

    def commit(self) -> Location:
        with _storage_errors(self.target.url, "write"):
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)
                assert self._temp is not None
                os.replace(self._temp.path, self.target.path)  # the same folder: it exists
                return self.target
            self._handle.close()
            if self._deferred_commit:
                self._handle.commit()
            elif self._temp is not None:
                self._temp.move_to(self.target)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)
                if self._temp is not None:
                    os.unlink(self._temp.path)
                return
            if self._deferred_commit:
                self._handle.discard()
            else:
                self._handle.close()
                if self._temp is not None:
                    self._temp.remove()

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _commits(handle: Any) -> bool:
    """Whether an fsspec file really defers its upload until ``commit`` (S3, GCS), not just accepts the call."""
    commit = getattr(type(handle), "commit", None)
    return isinstance(handle, AbstractBufferedFile) and commit is not AbstractBufferedFile.commit


#: What the core takes wherever it writes or reads files: a local path, or a :class:`Location`.
Destination = str | os.PathLike[str] | Location
