"""Settling: a study is announced once it is complete, not when its first instance is seen.

A source tells the :class:`Ledger` what it saw of each study (an instance count from a search, or one
instance more from a feed entry, with the time it was seen) and, where it has one, the server's own
stability signal (Orthanc's ``StableStudy``). A study is *due* once no new instance of it has been seen for
``settle_seconds`` and, where the source waits for a stability signal, that signal came after its newest
instance: the signal may delay an announcement, never make it earlier.

What a study's progress records (:class:`StudyProgress`):

- ``count``: the instances seen (a search's ``NumberOfStudyRelatedInstances``, or feed entries counted);
- ``last_seen``: when the newest of them was seen (UTC, seconds since the epoch);
- ``stable``: whether the server's stability signal came after it;
- ``announced``: the instance count at the study's last announcement (``None``: never announced; the
  studies already there when a watcher starts are recorded as announced with their count, so that one of
  them that grows later is announced as an update);
- ``pending``: whether something arrived since the last announcement (or judgement).

An announcement carries the count when announced, and ``update``: ``False`` the first time, ``True`` when a
study announced before has grown and settled again. A study whose count did not grow is not announced again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StudyProgress:
    count: int = 0
    last_seen: float = 0.0
    stable: bool = False
    announced: int | None = None
    pending: bool = True

    def to_json(self) -> list[Any]:
        return [self.count, self.last_seen, self.stable, self.announced, self.pending]

    @classmethod
    def from_json(cls, data: Any) -> StudyProgress:
        if not isinstance(data, list) or len(data) != 5:
            raise ValueError(f"not a study's progress: {str(data)[:80]!r}")
        count, last_seen, stable, announced, pending = data
        if not _is_int(count) or not isinstance(last_seen, int | float) or isinstance(last_seen, bool):
            raise ValueError(f"a study's progress has no count or time: {str(data)[:80]!r}")
        if announced is not None and not _is_int(announced):
            raise ValueError(f"a study's progress has an invalid announced count: {str(data)[:80]!r}")
        return cls(count, float(last_seen), bool(stable), announced, bool(pending))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Announcement:
    """A settled study: its UID, its instance count when announced, and whether it was announced before."""

    study_instance_uid: str
    count: int
    update: bool


@dataclass
class Ledger:
    """The progress of every study a watcher follows, by StudyInstanceUID."""

    studies: dict[str, StudyProgress] = field(default_factory=dict)

    def saw_count(self, uid: str, count: int, at: float) -> None:
        """A search found ``count`` instances of the study at ``at``: a count that changed restarts its clock."""
        progress = self.studies.get(uid)
        if progress is None:
            self.studies[uid] = StudyProgress(count=count, last_seen=at)
        elif count != progress.count:
            progress.count, progress.last_seen, progress.stable, progress.pending = count, at, False, True

    def saw_instance(self, uid: str, at: float) -> None:
        """A feed read one new instance of the study, created at ``at``."""
        progress = self.studies.setdefault(uid, StudyProgress(last_seen=at))
        progress.count += 1
        progress.last_seen = max(progress.last_seen, at)
        progress.stable, progress.pending = False, True

    def saw_stable(self, uid: str) -> None:
        """The server says the study is stable (no new instance for its own delay)."""
        progress = self.studies.get(uid)
        if progress is not None:
            progress.stable = True

    def known(self, uid: str, count: int, at: float) -> None:
        """The study was there when the watcher started: recorded as announced with ``count``."""
        self.studies[uid] = StudyProgress(count, at, False, announced=count, pending=False)

    def due(self, now: float, settle_seconds: float, wait_for_stable: bool = False) -> list[str]:
        """The studies that settled: something arrived, nothing since ``settle_seconds`` (oldest first)."""
        ready = [
            (progress.last_seen, uid)
            for uid, progress in self.studies.items()
            if progress.pending
            and now - progress.last_seen >= settle_seconds
            and (progress.stable or not wait_for_stable)
        ]
        return [uid for _, uid in sorted(ready)]

    def judge(self, uid: str, count: int | None) -> Announcement | None:
        """A due study, with its ``count`` now (None: it does not match the watcher's filters, or no longer
        exists): its announcement, if it is new or has grown since it was last announced; nothing is
        pending for it afterwards."""
        progress = self.studies[uid]
        progress.pending = False
        if count is None:  # kept, judged: judged again once more of it arrives
            return None
        progress.count = count
        before = progress.announced
        if before is not None and count <= before:
            progress.announced = count  # shrunk or unchanged: nothing to say, a regrowth will be
            return None
        progress.announced = count
        return Announcement(uid, count, update=before is not None)

    def forget_before(self, oldest: float) -> None:
        """Drop the studies judged whose newest instance was seen before ``oldest``: an instance added to
        one later starts it anew."""
        self.studies = {uid: p for uid, p in self.studies.items() if p.pending or p.last_seen >= oldest}

    def to_json(self) -> dict[str, list[Any]]:
        return {uid: progress.to_json() for uid, progress in sorted(self.studies.items())}

    @classmethod
    def from_json(cls, data: Any) -> Ledger:
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise ValueError("a watcher's ledger is not a map of UIDs")
        return cls({uid: StudyProgress.from_json(value) for uid, value in data.items()})
