"""Progress of long transfers (files and bytes done, rate), and a logger that reports it at an interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """A snapshot handed to ``progress`` callbacks. Totals are None when not known in advance."""

    files_done: int
    bytes_done: int
    elapsed: float
    files_total: int | None = None
    bytes_total: int | None = None
    #: of the done ones, those that needed no transfer: already on the server (store), in place (retrieve)
    files_skipped: int = 0
    bytes_skipped: int = 0

    @property
    def bytes_per_second(self) -> float:
        """The transfer rate: what was skipped moved no byte."""
        return (self.bytes_done - self.bytes_skipped) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def files_per_second(self) -> float:
        return (self.files_done - self.files_skipped) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def finished(self) -> bool:
        return self.files_total is not None and self.files_done >= self.files_total

    def __str__(self) -> str:
        files = (
            f"{self.files_done}/{self.files_total}" if self.files_total is not None else f"{self.files_done}"
        )
        skipped = f" ({self.files_skipped} already there)" if self.files_skipped else ""
        return (
            f"{files} files{skipped}, {self.bytes_done / 1e6:.1f} MB in {self.elapsed:.1f} s "
            f"({self.bytes_per_second / 1e6:.1f} MB/s, {self.files_per_second:.0f} files/s)"
        )


ProgressCallback = Callable[[Progress], None]


class ProgressTracker:
    """Counts files and bytes from several threads and hands snapshots to a callback."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        files_total: int | None = None,
        bytes_total: int | None = None,
    ) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.files_skipped = 0
        self.bytes_skipped = 0

    def part(self) -> ProgressCallback:
        """A progress callback for one part of the work (one series of a study, say).

        The part reports its own running totals; each report adds its difference from the part's previous
        one here, so several parts running at once add up.
        """
        last = [0, 0, 0, 0]

        def report(progress: Progress) -> None:
            now = [progress.files_done, progress.bytes_done, progress.files_skipped, progress.bytes_skipped]
            files, nbytes, files_skipped, bytes_skipped = (a - b for a, b in zip(now, last, strict=True))
            last[:] = now
            self.add(files - files_skipped, nbytes - bytes_skipped)
            if files_skipped or bytes_skipped:
                self.add(files_skipped, bytes_skipped, skipped=True)

        return report

    def add(self, files: int, nbytes: int, *, skipped: bool = False) -> Progress:
        """Count files done; ``skipped`` ones needed no transfer (they do not count in the rate)."""
        with self._lock:
            self.files_done += files
            self.bytes_done += nbytes
            if skipped:
                self.files_skipped += files
                self.bytes_skipped += nbytes
            snapshot = Progress(
                self.files_done,
                self.bytes_done,
                time.monotonic() - self._started,
                self.files_total,
                self.bytes_total,
                self.files_skipped,
                self.bytes_skipped,
            )
        if self._callback is not None:
            self._callback(snapshot)
        return snapshot


class ThrottledProgressLog:
    """A progress callback that logs the first report, then at most every ``interval`` seconds, and always
    when finished.

    The first report is logged whatever the clock says: ``time.monotonic()`` counts from an arbitrary
    point (the host's boot on Linux), so a machine or container younger than ``interval`` must not
    suppress it.
    """

    def __init__(self, logger: logging.Logger, what: str, interval: float = 15.0) -> None:
        self._logger = logger
        self._what = what
        self._interval = interval
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            if not progress.finished and self._last is not None and now - self._last < self._interval:
                return
            self._last = now
        self._logger.info("%s: %s", self._what, progress)
