"""Expansion of store inputs: file paths, directories (recursed) and glob patterns (``**`` recursive), on this
machine or on an object store (objects, prefixes and patterns).

A bad entry (a missing path, a glob that matches nothing) does not stop the others: it is returned as an
:class:`InputProblem` so that the store reports it as a failed input by name.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from upath import UPath

from airflow_dicomweb.core.errors import DicomWebStorageError
from airflow_dicomweb.core.storage.paths import (
    Destination,
    StoragePath,
    as_path,
    is_dir,
    is_file,
    is_pattern,
    is_remote,
    local_name,
)
from airflow_dicomweb.core.storage.paths import (
    files as files_below,
)
from airflow_dicomweb.core.storage.paths import (
    glob as glob_files,
)

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputProblem:
    """An input that names no file: what was given, and why it gave nothing."""

    given: str
    reason: str


def _is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            yield Path(root, name)


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file to store: where it is, and its size when a listing already told it."""

    location: StoragePath
    size: int | None = None


Input = Destination


def expand_inputs(inputs: Iterable[Input] | Input) -> tuple[list[InputFile], list[InputProblem]]:
    """Regular files named by ``inputs`` in a stable order, each once, and the inputs that named none.

    Local paths are files, folders (walked) or glob patterns. A path on an object store is an object, a
    prefix (every object below it) or a pattern (``**`` recursive).
    """
    if isinstance(inputs, str | os.PathLike | UPath):
        inputs = [inputs]
    files: list[InputFile] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()

    def add(location: StoragePath, size: int | None = None) -> None:
        key = str(location) if is_remote(location) else str(Path(local_name(location)).absolute())
        if key not in seen:
            seen.add(key)
            files.append(InputFile(location, size))

    for given in inputs:
        item = as_path(given)
        if is_remote(item):
            try:
                _expand_remote(item, add, problems)
            except DicomWebStorageError as exc:  # a missing bucket, refused credentials: this input fails
                problems.append(InputProblem(str(item), str(exc).removeprefix(f"{item}: ")))
            continue
        text = local_name(item)
        if not text:
            problems.append(InputProblem(repr(text), "empty path"))
            continue
        path = Path(text)
        if path.is_dir():
            before = len(files)
            for found in _walk(path):
                if found.is_file():
                    add(_local(item, found))
            if len(files) == before:
                problems.append(InputProblem(text, "directory holds no files"))
        elif path.is_file():
            add(item)
        elif _is_glob(text):
            matches = sorted(glob.glob(text, recursive=True))
            regular = [Path(m) for m in matches if os.path.isfile(m)]
            for m in matches:
                if os.path.isdir(m) and not text.endswith("**"):
                    regular += [f for f in _walk(Path(m)) if f.is_file()]
            if not regular:
                problems.append(InputProblem(text, "glob pattern matches no file"))
            for found in regular:
                add(_local(item, found))
        elif path.exists():
            problems.append(InputProblem(text, "not a regular file"))
        else:
            problems.append(InputProblem(text, "no such file or directory"))
    return files, problems


def _local(given: StoragePath, found: Path) -> StoragePath:
    """A file found on this machine, named as its input was: a path, or a ``file://`` URL."""
    return found if isinstance(given, Path) else UPath(found.absolute().as_uri())


def _expand_remote(
    item: StoragePath, add: Callable[[StoragePath, int | None], None], problems: list[InputProblem]
) -> None:
    """An object, a prefix or a pattern on an object store; a missing bucket is raised, naming the URL."""
    pattern = is_pattern(item)
    if pattern or is_dir(item):
        found, empty = (
            (glob_files(item), "glob pattern matches no object")
            if pattern
            else (files_below(item), "prefix holds no objects")
        )
        if not found:
            problems.append(InputProblem(str(item), empty))
        for location, size in found:
            add(location, size)
    elif is_file(item):
        add(item, None)
    else:
        problems.append(InputProblem(str(item), "no such object or prefix"))
