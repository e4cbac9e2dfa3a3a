"""The command line's progress: a bar on a terminal (even one that reports no size), lines otherwise."""

import io
import os
import pty
import select

from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core.progress import Progress

REPORTS = [Progress(1, 1024, 0.5, 4, 4096), Progress(4, 4096, 1.0, 4, 4096)]


def read_all(fd: int) -> bytes:
    """Everything the terminal holds: one read may return only part of it (one write's worth) on a busy
    machine; after the other end is closed and drained, Linux answers EIO."""
    data = b""
    while select.select([fd], [], [], 1.0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_bar_on_a_terminal_that_reports_no_size():
    master, slave = pty.openpty()  # a new pty is 0 x 0, as under script(1) or some CI runners
    with os.fdopen(slave, "w") as stream:
        display = ProgressDisplay("retrieve", stream=stream)
        for report in REPORTS:
            display(report)
        display.close()
    text = read_all(master).decode(errors="replace")
    os.close(master)
    assert "retrieve: 100%" in text and "4/4 files" in text and "4.00k/4.00k" in text


def test_lines_when_not_a_terminal_and_nothing_when_quiet():
    out = io.StringIO()
    display = ProgressDisplay("store", stream=out, interval=3600)
    for report in REPORTS:
        display(report)
    assert out.getvalue().splitlines() == [f"store: {REPORTS[0]}", f"store: {REPORTS[1]}"]  # first and last
    quiet = io.StringIO()
    silent = ProgressDisplay("store", stream=quiet, quiet=True)
    silent(REPORTS[1])
    assert quiet.getvalue() == "" and silent.summary() == str(REPORTS[1])
