"""Where files are read from and written to: one path type from the outside in.

A path on this machine is a :class:`pathlib.Path`; anywhere else it is a ``UPath`` of universal_pathlib (the
base of Airflow's own ``ObjectStoragePath``, which passes through as it is, its connection's credentials
with it). A URL (``s3://bucket/key``, ``file:///...``) becomes a ``UPath`` through fsspec. The functions here
add what the core needs beyond the path's own methods:

- writes are atomic: a file or object appears only once complete. On this machine a temporary file in the
  target's folder is renamed into place, written through a descriptor (the hot path of a retrieve). On a
  filesystem whose files can be committed or discarded (S3's multipart uploads, GCS's resumable uploads),
  the object is written in place with ``autocommit=False`` and committed last, so no byte is written twice;
  elsewhere a temporary key is written, then moved;
- listings see what another process wrote meanwhile (fsspec's caches are invalidated first);
- every failure of a filesystem (a missing bucket, refused credentials) is a :class:`DicomWebStorageError`
  naming the URL.
"""

from __future__ import annotations

import contextlib
import glob as local_glob
import itertools
import os
import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

from fsspec.spec import AbstractBufferedFile
from upath import UPath

from airflow_dicomweb.core.errors import DicomWebStorageError

#: A file or folder: a :class:`~pathlib.Path` on this machine, a ``UPath`` anywhere else.
StoragePath: TypeAlias = Path | UPath
#: What the core takes wherever it takes a file or folder: a path, a string (a local path or a URL).
Destination: TypeAlias = str | os.PathLike[str] | UPath

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
_LOCAL_PROTOCOLS = ("", "file", "local")


def as_path(value: Destination) -> StoragePath:
    """The path ``value`` names: a ``UPath`` (an ``ObjectStoragePath`` included) as it is, a URL as a
    ``UPath``, anything else as a local :class:`~pathlib.Path`."""
    if isinstance(value, UPath | Path):
        return value
    text = os.fspath(value)
    return UPath(text) if "://" in text else Path(text)


def is_remote(path: StoragePath) -> bool:
    """Whether ``path`` is on another filesystem than this machine's."""
    return isinstance(path, UPath) and path.protocol not in _LOCAL_PROTOCOLS


def local_name(path: StoragePath) -> str:
    """The path on this machine's filesystem of a local path (``file://`` URLs included)."""
    if isinstance(path, Path):  # a local UPath is a Path too
        return os.fspath(path)
    return path.path


def is_pattern(path: StoragePath) -> bool:
    """Whether the path is a glob pattern (``*``, ``?``, ``[``; ``**`` is recursive)."""
    return any(c in _GLOB_CHARS for c in (path.path if isinstance(path, UPath) else str(path)))


@contextlib.contextmanager
def storage_errors(path: StoragePath | str, action: str) -> Iterator[None]:
    """Filesystem failures as :class:`DicomWebStorageError`, naming the URL and the reason."""
    url = str(path)
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


# --- reading --------------------------------------------------------------------------------------------


def exists(path: StoragePath) -> bool:
    if not is_remote(path):
        return os.path.exists(local_name(path))
    assert isinstance(path, UPath)
    with storage_errors(path, "look up"):
        path.fs.invalidate_cache(path.path)
        return bool(path.fs.exists(path.path))


def is_dir(path: StoragePath) -> bool:
    if not is_remote(path):
        return os.path.isdir(local_name(path))
    assert isinstance(path, UPath)
    with storage_errors(path, "look up"):
        return bool(path.fs.isdir(path.path))


def is_file(path: StoragePath) -> bool:
    if not is_remote(path):
        return os.path.isfile(local_name(path))
    assert isinstance(path, UPath)
    with storage_errors(path, "look up"):
        return bool(path.fs.isfile(path.path))


def size(path: StoragePath) -> int:
    if not is_remote(path):
        return os.stat(local_name(path)).st_size
    assert isinstance(path, UPath)
    with storage_errors(path, "look up"):
        return int(path.fs.size(path.path))


def open_read(path: StoragePath, *, unbuffered: bool = False) -> BinaryIO:
    """A binary file object; on an object store, read in large blocks ahead. ``unbuffered`` (this machine
    only) suits a reader of large blocks of its own."""
    if not is_remote(path):
        return open(local_name(path), "rb", buffering=0 if unbuffered else -1)
    assert isinstance(path, UPath)
    with storage_errors(path, "open"):
        handle: BinaryIO = path.fs.open(path.path, "rb", block_size=BLOCK_SIZE, cache_type="readahead")
        return handle


def read_bytes(path: StoragePath, max_bytes: int) -> bytes:
    """A whole file's bytes; a :class:`DicomWebStorageError` naming it when it holds more than ``max_bytes``
    (nothing larger is held in memory)."""
    with storage_errors(path, "read"), open_read(path) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DicomWebStorageError(too_large(path, max_bytes))
    return data


def too_large(path: StoragePath, max_bytes: int) -> str:
    """The words for a file larger than what may be read whole."""
    return f"{path}: larger than {max_bytes:,} bytes (raise max_instance_mib to read it)"


def files(folder: StoragePath) -> list[tuple[StoragePath, int]]:
    """Every file below ``folder``, recursively, with its size, in a stable order."""
    if not is_remote(folder):
        out: list[tuple[StoragePath, int]] = []
        root_name = local_name(folder)
        for root, dirs, names in os.walk(root_name):
            dirs.sort()
            for name in sorted(names):
                found = os.path.join(root, name)
                if os.path.isfile(found):
                    out.append((folder.joinpath(os.path.relpath(found, root_name)), os.stat(found).st_size))
        return out
    assert isinstance(folder, UPath)
    with storage_errors(folder, "list"):
        folder.fs.invalidate_cache(folder.path)  # another process may have written there since
        found_all = folder.fs.find(folder.path, detail=True)
    return _below(folder, folder.path, found_all)


def glob(pattern: StoragePath) -> list[tuple[StoragePath, int]]:
    """The files ``pattern`` matches (``**`` recursive), with their sizes."""
    if not is_remote(pattern):
        paths = [p for p in sorted(local_glob.glob(local_name(pattern), recursive=True)) if os.path.isfile(p)]
        return [(Path(p), os.stat(p).st_size) for p in paths]
    assert isinstance(pattern, UPath)
    with storage_errors(pattern, "list"):
        pattern.fs.invalidate_cache()
        found = pattern.fs.glob(pattern.path, detail=True)
    base = pattern
    while is_pattern(base):  # the folder the pattern starts in, names below it
        base = base.parent
    assert isinstance(base, UPath)
    return _below(base, base.path, found)


def _below(base: UPath, base_path: str, found: dict[str, Any]) -> list[tuple[StoragePath, int]]:
    """The files of an fsspec listing (detail=True), as paths below ``base``."""
    start = base_path.rstrip("/")
    return [
        (base.joinpath(posixpath.relpath(name, start)), int(info.get("size") or 0))
        for name, info in sorted(found.items())
        if info.get("type", "file") == "file"
    ]


# --- writing ------------------------------------------------------------------------------------------


def write_atomically(path: StoragePath, *chunks: bytes | memoryview) -> StoragePath:
    """``chunks``, one after the other, into ``path``, which appears only once complete."""
    with AtomicWriter(path) as out:
        for chunk in chunks:
            out.write(chunk)
    return path


def remove(path: StoragePath) -> None:
    if not is_remote(path):
        Path(local_name(path)).unlink(missing_ok=True)
        return
    assert isinstance(path, UPath)
    with storage_errors(path, "remove"), contextlib.suppress(FileNotFoundError):
        path.fs.rm(path.path)


def move(source: StoragePath, target: StoragePath) -> None:
    """``source`` to ``target``, on the same filesystem."""
    if not is_remote(source):
        os.makedirs(os.path.dirname(local_name(target)) or ".", exist_ok=True)
        os.replace(local_name(source), local_name(target))
        return
    assert isinstance(source, UPath) and isinstance(target, UPath)
    with storage_errors(source, "move"):
        source.fs.mv(source.path, target.path)


class AtomicWriter:
    """Writes one file or object so that it appears only when :meth:`commit` is called.

    Used as a context manager, it commits when the block ends normally and discards on an exception.
    """

    def __init__(self, target: StoragePath) -> None:
        self.target = target
        self._temp: StoragePath | None = None
        self._handle: Any = None
        self._deferred_commit = False
        self._fd = -1
        self._local_target = ""
        self._local_temp = ""
        with storage_errors(target, "write"):
            if not is_remote(target):
                # On this machine: a descriptor of a temporary file beside the target, renamed at commit.
                # The folder is made only when the file cannot be created (one syscall per file, not three).
                self._local_target = local_name(target)
                folder = os.path.dirname(self._local_target) or "."
                temp = os.path.join(
                    folder, f"{TEMP_PREFIX}{os.getpid()}-{_TEMP_TOKEN}{next(_TEMP_COUNTER)}{TEMP_SUFFIX}"
                )
                try:
                    self._fd = os.open(temp, _CREATE, 0o666)
                except FileNotFoundError:
                    os.makedirs(folder, exist_ok=True)
                    self._fd = os.open(temp, _CREATE, 0o666)
                self._local_temp = temp
                return
            assert isinstance(target, UPath)
            if _defers(target.fs, target.parent.path):
                self._handle = target.fs.open(target.path, "wb", autocommit=False, block_size=BLOCK_SIZE)
                self._deferred_commit = True
                return
            # this filesystem cannot defer: write a temporary key, then move it
            self._temp = target.parent.joinpath(f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}")
            assert isinstance(self._temp, UPath)
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
                with storage_errors(self.target, "write"):
                    raise
            return
        with storage_errors(self.target, "write"):
            self._handle.write(data)

    def commit(self) -> StoragePath:
        with storage_errors(self.target, "write"):
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)
                os.replace(self._local_temp, self._local_target)  # the same folder: it exists
                return self.target
            self._handle.close()
            if self._deferred_commit:
                self._handle.commit()
            elif self._temp is not None:
                move(self._temp, self.target)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)
                os.unlink(self._local_temp)
                return
            if self._deferred_commit:
                self._handle.discard()
            else:
                self._handle.close()
                if self._temp is not None:
                    remove(self._temp)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


#: Whether files of a kind of filesystem defer their upload until committed, learned once per kind.
_DEFERS: dict[type, bool] = {}


def _defers(fs: Any, folder: str) -> bool:
    """Whether ``fs`` writes a file only when it is committed (S3, GCS). Learned from a probe under a
    temporary name in ``folder``, never at a target's name: a filesystem that cannot defer creates the file
    as it is opened, and an empty object must not appear where a complete one is awaited."""
    kind = type(fs)
    if kind not in _DEFERS:
        probe = posixpath.join(folder, f"{TEMP_PREFIX}probe-{uuid.uuid4().hex}{TEMP_SUFFIX}")
        handle = fs.open(probe, "wb", autocommit=False, block_size=BLOCK_SIZE)
        defers = _commits(handle)
        if defers:
            handle.discard()
        else:
            handle.close()
            with contextlib.suppress(Exception):
                fs.rm(probe)
        _DEFERS[kind] = defers
    return _DEFERS[kind]


def _commits(handle: Any) -> bool:
    """Whether an fsspec file really defers its upload until ``commit`` (S3, GCS), not just accepts the call."""
    commit = getattr(type(handle), "commit", None)
    return isinstance(handle, AbstractBufferedFile) and commit is not AbstractBufferedFile.commit
