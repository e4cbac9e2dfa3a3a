import logging

import pytest

from airflow_dicomweb.core import progress as progress_module
from airflow_dicomweb.core.progress import Progress, ProgressTracker, ThrottledProgressLog


class FakeClock:
    """A ``time.monotonic`` that starts where a freshly booted host's does: a few seconds in."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.progress"]


@pytest.mark.parametrize("boot_age", [0.0, 3.0, 59.0, 1e6])
def test_progress_is_logged_at_an_interval_not_per_file_and_always_at_the_end(caplog, monkeypatch, boot_age):
    """Whatever the host's uptime (a fresh pod's monotonic clock is below every interval), the first
    report is logged, then one per interval, then the last one."""
    clock = FakeClock(boot_age)
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    caplog.set_level(logging.INFO)
    log = ThrottledProgressLog(logging.getLogger("test.progress"), "stored", interval=60)
    tracker = ProgressTracker(log, files_total=1000, bytes_total=1000 * 525_000)
    for n in range(1000):
        clock.now = boot_age + n * 0.1  # 100 s in all: the first line, one 60 s later, the last
        tracker.add(1, 525_000)
    lines = progress_lines(caplog)
    assert len(lines) == 3, lines
    assert lines[0].startswith("stored: 1/1000 files")
    assert lines[1].startswith("stored: 601/1000 files")
    assert lines[-1].startswith("stored: 1000/1000 files, 525.0 MB in ")


def test_the_real_clock_logs_the_first_report_too(caplog):
    caplog.set_level(logging.INFO)
    log = ThrottledProgressLog(logging.getLogger("test.progress"), "stored", interval=1e9)
    tracker = ProgressTracker(log, files_total=3)
    tracker.add(1, 10)
    tracker.add(1, 10)
    tracker.add(1, 10)
    assert [line.split(" files")[0] for line in progress_lines(caplog)] == ["stored: 1/3", "stored: 3/3"]


def test_parts_report_running_totals_that_add_up():
    seen = []
    tracker = ProgressTracker(seen.append)
    a, b = tracker.part(), tracker.part()
    a(Progress(2, 200, 1.0))
    b(Progress(1, 50, 1.0))
    a(Progress(5, 500, 2.0))  # a running total: 3 more files since its last report
    assert (seen[-1].files_done, seen[-1].bytes_done) == (6, 550)
    assert str(seen[-1]).startswith("6 files, 0.0 MB")
