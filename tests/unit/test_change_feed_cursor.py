"""The change-feed cursor over a feed held in a list, read as Azure documents it (``startTime`` inclusive,
in order): entries sharing one Timestamp across polls are read once each, none skipped."""

from __future__ import annotations

import pytest

from airflow_dicomweb.core.arrivals.change_feed import ChangeFeedCursor, poll_change_feed
from airflow_dicomweb.core.change_feed.feed import ChangeFeedEntry, parse_entry
from airflow_dicomweb.core.errors import DicomWebResponseError


class ListFeed:
    def __init__(self) -> None:
        self.entries_: list[ChangeFeedEntry] = []

    def add(self, study: str, timestamp: str, action: str = "create") -> None:
        n = len(self.entries_) + 1
        self.entries_.append(
            ChangeFeedEntry(n, action, timestamp, study, f"{study}.1", f"{study}.1.{n}", "current")
        )

    def latest(self):
        return self.entries_[-1] if self.entries_ else None

    def entries(self, start_time, max_entries):
        return iter(
            [e for e in self.entries_ if start_time is None or e.timestamp >= start_time][:max_entries]
        )


class EveryStudy:
    """A search that finds every study it is asked for."""

    def iter_search(self, level, *, filters=None, includefield=None, page_size=None):
        uid = filters["StudyInstanceUID"]
        yield {"0020000D": {"vr": "UI", "Value": [uid]}}


T1, T2 = "2026-12-01T10:00:00.0000000Z", "2026-12-01T10:00:01.0000000Z"


def test_entries_sharing_a_timestamp_across_polls_are_read_once_each():
    feed = ListFeed()
    feed.add("1.1", T1)
    _, cursor = poll_change_feed(feed, EveryStudy(), ChangeFeedCursor())
    assert cursor.start_time == T1 and cursor.read_at_start == [1]
    feed.add("1.2", T1)  # the same Timestamp as the entry the baseline ended on
    new, cursor = poll_change_feed(feed, EveryStudy(), cursor)
    assert [s["StudyInstanceUID"] for s in new] == ["1.2"] and cursor.read_at_start == [1, 2]
    feed.add("1.3", T1)
    feed.add("1.4", T2)
    new, cursor = poll_change_feed(feed, EveryStudy(), cursor)
    assert [s["StudyInstanceUID"] for s in new] == ["1.3", "1.4"]
    assert cursor.start_time == T2 and cursor.read_at_start == [4]
    new, cursor = poll_change_feed(feed, EveryStudy(), cursor)
    assert new == []


def test_an_announced_study_is_forgotten_remember_days_after_its_last_instance():
    feed = ListFeed()
    _, cursor = poll_change_feed(feed, EveryStudy(), ChangeFeedCursor())
    assert cursor.start_time is None
    feed.add("1.1", "2026-11-01T00:00:00Z")
    new, cursor = poll_change_feed(feed, EveryStudy(), cursor, remember_days=1)
    assert len(new) == 1 and "1.1" in cursor.announced
    feed.add("1.9", "2026-11-05T00:00:00Z")
    _, cursor = poll_change_feed(feed, EveryStudy(), cursor, remember_days=1)
    assert "1.1" not in cursor.announced  # four days on: forgotten, the cursor stays small
    _, kept = poll_change_feed(feed, EveryStudy(), ChangeFeedCursor(started=True), remember_days=None)
    assert set(kept.announced) == {"1.1", "1.9"}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"Sequence": "1"}, "no valid Sequence"),
        ({"Sequence": 1, "Timestamp": "yesterday"}, "no ISO 8601 Timestamp"),
        (
            {
                "Sequence": 1,
                "Timestamp": T1,
                "StudyInstanceUid": "1.2",
                "SeriesInstanceUid": "1.3",
                "SopInstanceUid": "1.4/../x",
            },
            "invalid UID",
        ),
        ([], "not an object"),
    ],
)
def test_a_bad_entry_is_refused_with_where_it_came_from(entry, message):
    with pytest.raises(DicomWebResponseError, match=f"GET somewhere: .*{message}"):
        parse_entry(entry, "GET somewhere")


def test_an_unreadable_cursor_is_refused():
    with pytest.raises(ValueError, match="not a change-feed cursor"):
        ChangeFeedCursor.from_json({"version": 1, "seen": {}})
    cursor = ChangeFeedCursor(T1, [3], {"1.2": T1}, True)
    assert ChangeFeedCursor.from_json(cursor.to_json()) == cursor
