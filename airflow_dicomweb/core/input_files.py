"""Expansion of store inputs: file paths, directories (recursed) and glob patterns (``**`` recursive).

A bad entry (a missing path, a glob that matches nothing) does not stop the others: it is returned as an
:class:`InputProblem` so that the store reports it as a failed input by name.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


def expand_inputs(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
) -> tuple[list[Path], list[InputProblem]]:
    """Regular files named by ``inputs`` in a stable order, each once, and the inputs that named none."""
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    files: list[Path] = []
    problems: list[InputProblem] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.absolute()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in inputs:
        text = os.fspath(item)
        if not text:
            problems.append(InputProblem(repr(text), "empty path"))
            continue
        path = Path(text)
        if path.is_dir():
            before = len(files)
            for found in _walk(path):
                if found.is_file():
                    add(found)
            if len(files) == before:
                problems.append(InputProblem(text, "directory holds no files"))
        elif path.is_file():
            add(path)
        elif _is_glob(text):
            matches = sorted(glob.glob(text, recursive=True))
            regular = [Path(m) for m in matches if os.path.isfile(m)]
            for m in matches:
                if os.path.isdir(m) and not text.endswith("**"):
                    regular += [f for f in _walk(Path(m)) if f.is_file()]
            if not regular:
                problems.append(InputProblem(text, "glob pattern matches no file"))
            for found in regular:
                add(found)
        elif path.exists():
            problems.append(InputProblem(text, "not a regular file"))
        else:
            problems.append(InputProblem(text, "no such file or directory"))
    return files, problems
