"""The change-feed cursor over a feed held in a list, read as Azure documents it (``startTime`` inclusive,
in order): entries sharing one Timestamp across polls are read once each, none skipped; studies settle on
the entries' timestamps, on a clock the test sets."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_dicomweb.core.arrivals.change_feed import ChangeFeedCursor, poll_change_feed
from airflow_dicomweb.core.arrivals.settling import Ledger, StudyProgress
from airflow_dicomweb.core.change_feed.azure import ChangeFeedEntry, parse_entry
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
    """A search that finds every study it is asked for, with as many instances as the feed created of it."""

    def __init__(self, feed: ListFeed) -> None:
        self.feed = feed

    def iter_search(self, level, *, filters=None, includefield=None, page_size=None):
        uid = filters["StudyInstanceUID"]
        count = sum(1 for e in self.feed.entries_ if e.study_instance_uid == uid and e.action == "create")
        yield {"0020000D": {"vr": "UI", "Value": [uid]}, "00201208": {"vr": "IS", "Value": [count]}}


T1, T2 = "2026-12-01T10:00:00.0000000Z", "2026-12-01T10:00:01.0000000Z"
LATER = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def poll(feed, cursor, now=LATER, **kwargs):
    kwargs.setdefault("settle_seconds", 0)
    kwargs.setdefault("remember_days", None)
    return poll_change_feed(feed, EveryStudy(feed), cursor, now=now, **kwargs)


def test_entries_sharing_a_timestamp_across_polls_are_read_once_each():
    feed = ListFeed()
    feed.add("1.1", T1)
    _, cursor = poll(feed, ChangeFeedCursor())
    assert cursor.start_time == T1 and cursor.read_at_start == [1]
    feed.add("1.2", T1)  # the same Timestamp as the entry the baseline ended on
    new, cursor = poll(feed, cursor)
    assert [s["StudyInstanceUID"] for s in new] == ["1.2"] and cursor.read_at_start == [1, 2]
    feed.add("1.3", T1)
    feed.add("1.4", T2)
    new, cursor = poll(feed, cursor)
    assert [s["StudyInstanceUID"] for s in new] == ["1.3", "1.4"]
    assert cursor.start_time == T2 and cursor.read_at_start == [4]
    new, cursor = poll(feed, cursor)
    assert new == []


def test_an_announced_study_is_forgotten_remember_days_after_its_last_instance():
    feed = ListFeed()
    _, cursor = poll(feed, ChangeFeedCursor())
    assert cursor.start_time is None
    feed.add("1.1", "2026-11-01T00:00:00Z")
    new, cursor = poll(feed, cursor, remember_days=1)
    assert len(new) == 1 and "1.1" in cursor.ledger.studies
    feed.add("1.9", "2026-11-05T00:00:00Z")
    _, cursor = poll(feed, cursor, remember_days=1)
    assert "1.1" not in cursor.ledger.studies  # four days on: forgotten, the cursor stays small
    _, kept = poll(feed, ChangeFeedCursor(started=True))
    assert set(kept.ledger.studies) == {"1.1", "1.9"}


def test_a_study_is_announced_once_settled_with_every_instance_and_again_only_when_it_grows():
    feed = ListFeed()
    _, cursor = poll(feed, ChangeFeedCursor())
    start = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)

    def at(seconds: float) -> dt.datetime:
        return start + dt.timedelta(seconds=seconds)

    def stamp(seconds: float) -> str:
        return at(seconds).isoformat().replace("+00:00", "Z")

    for second in (0, 1, 2):  # the first burst
        feed.add("1.5", stamp(second))
    new, cursor = poll(feed, cursor, now=at(5), settle_seconds=10)
    assert new == []  # seen, not settled
    feed.add("1.5", stamp(8))  # the second burst restarts the clock
    new, cursor = poll(feed, cursor, now=at(12), settle_seconds=10)
    assert new == []  # 4 s after its last instance
    new, cursor = poll(feed, ChangeFeedCursor.from_json(cursor.to_json()), now=at(18), settle_seconds=10)
    assert [(s["StudyInstanceUID"], s["NumberOfStudyRelatedInstances"], s["update"]) for s in new] == [
        ("1.5", 4, False)
    ]
    new, cursor = poll(feed, cursor, now=at(60), settle_seconds=10)
    assert new == []  # unchanged: never announced twice
    feed.add("1.5", stamp(70))  # a series arriving later
    new, cursor = poll(feed, cursor, now=at(90), settle_seconds=10)
    assert [(s["NumberOfStudyRelatedInstances"], s["update"]) for s in new] == [(5, True)]


def test_a_clock_ahead_of_ours_does_not_hasten_an_announcement():
    feed = ListFeed()
    _, cursor = poll(feed, ChangeFeedCursor())
    feed.add("1.6", "2030-01-01T00:00:00Z")  # the server's clock is years ahead
    new, cursor = poll(feed, cursor, now=LATER, settle_seconds=10)
    assert new == [] and cursor.ledger.studies["1.6"].last_seen == LATER.timestamp()
    new, _ = poll(feed, cursor, now=LATER + dt.timedelta(seconds=10), settle_seconds=10)
    assert [s["StudyInstanceUID"] for s in new] == ["1.6"]


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
    with pytest.raises(ValueError, match="progress"):
        ChangeFeedCursor.from_json({**ChangeFeedCursor().to_json(), "ledger": {"1.2": [1, "x", 0, 0, 0]}})
    cursor = ChangeFeedCursor(T1, [3], Ledger({"1.2": StudyProgress(3, 1.5, True, 3, False)}), True)
    assert ChangeFeedCursor.from_json(cursor.to_json()) == cursor
