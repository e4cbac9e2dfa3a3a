"""Progress of long stores and retrieves: a tqdm bar on a terminal, periodic lines otherwise.

tqdm was chosen over rich for weight: one pure-Python package with no dependencies.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from airflow_dicomweb.core.progress import Progress


def _sized(stream: Any) -> bool:
    """Whether the terminal reports its size (a pty made by a script may say 0 x 0, and tqdm then hides
    the bar as if it were below the last row)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


class ProgressDisplay:
    """A progress callback. On a terminal (stderr), a bar with files, bytes, rate and ETA; else a line every
    ``interval`` seconds and at the end; with ``quiet``, nothing. ``last`` keeps the latest report, so an
    interrupted command can say what finished."""

    def __init__(self, what: str, *, quiet: bool = False, interval: float = 10.0, stream: Any = None) -> None:
        self.what = what
        self.quiet = quiet
        self.interval = interval
        self.stream = stream or sys.stderr
        self.last: Progress | None = None
        self._bar: Any = None
        self._printed = 0.0
        self._lock = threading.Lock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            self.last = progress
            if self.quiet:
                return
            if self._tty:
                self._draw(progress)
            elif progress.finished or time.monotonic() - self._printed >= self.interval or not self._printed:
                self._printed = time.monotonic()
                print(f"{self.what}: {progress}", file=self.stream, flush=True)

    def _draw(self, progress: Progress) -> None:
        from tqdm import tqdm

        transferred = progress.bytes_done - progress.bytes_skipped
        total = None if progress.bytes_total is None else progress.bytes_total - progress.bytes_skipped
        if self._bar is None:
            sized = _sized(self.stream)
            self._bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=self.what,
                file=self.stream,
                dynamic_ncols=sized,
                ncols=None if sized else 100,
                nrows=None if sized else 24,
            )
        self._bar.total = total  # the bar and its rate count bytes moved, not files found already in place
        self._bar.n = transferred
        files = f"{progress.files_done}" + (f"/{progress.files_total}" if progress.files_total else "")
        skipped = f", {progress.files_skipped} already there" if progress.files_skipped else ""
        self._bar.set_postfix_str(f"{files} files{skipped}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def summary(self) -> str:
        """What finished so far, in words."""
        return str(self.last) if self.last else "nothing finished yet"
