import logging

from airflow_dicomweb.core.progress import Progress, ProgressTracker, ThrottledProgressLog


def test_progress_is_logged_at_an_interval_not_per_file_and_always_at_the_end(caplog):
    caplog.set_level(logging.INFO)
    log = ThrottledProgressLog(logging.getLogger("test.progress"), "stored", interval=3600)
    tracker = ProgressTracker(log, files_total=1000, bytes_total=1000 * 525_000)
    for _ in range(1000):
        tracker.add(1, 525_000)
    lines = [r.getMessage() for r in caplog.records if r.name == "test.progress"]
    assert len(lines) == 2  # the first report, then the final one: not 1,000 lines
    assert lines[-1].startswith("stored: 1000/1000 files, 525.0 MB in ")


def test_parts_report_running_totals_that_add_up():
    seen = []
    tracker = ProgressTracker(seen.append)
    a, b = tracker.part(), tracker.part()
    a(Progress(2, 200, 1.0))
    b(Progress(1, 50, 1.0))
    a(Progress(5, 500, 2.0))  # a running total: 3 more files since its last report
    assert (seen[-1].files_done, seen[-1].bytes_done) == (6, 550)
    assert str(seen[-1]).startswith("6 files, 0.0 MB")
