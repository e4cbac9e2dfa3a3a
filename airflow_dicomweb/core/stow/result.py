"""The result of a store (STOW-RS): one outcome per input file, and summaries of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    STORED = "stored"
    ALREADY_PRESENT = "already_present"
    FAILED = "failed"
    #: Not sent: de-identification held it back (its pixels may show identity, or identity was left).
    QUARANTINED = "quarantined"


#: The outcomes after which the destination holds the instance.
HELD = frozenset({Status.STORED, Status.ALREADY_PRESENT})


@dataclass(slots=True)
class InstanceOutcome:
    """What happened to one input: stored, already present on the server, failed, or quarantined (held back
    by de-identification), and why."""

    path: str
    status: Status
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    retrieve_url: str = ""
    http_status: int | None = None
    failure_reason: int | None = None
    reason: str = ""
    warning_reason: int | None = None
    size: int | None = None

    def __str__(self) -> str:
        uid = f" ({self.sop_instance_uid})" if self.sop_instance_uid else ""
        text = f"{self.path}{uid}: {self.status}"
        if self.status is Status.FAILED:
            bits = []
            if self.http_status:
                bits.append(f"HTTP {self.http_status}")
            if self.failure_reason is not None:
                bits.append(f"FailureReason 0x{self.failure_reason:04X}")
            if bits:
                text += f" [{', '.join(bits)}]"
        return text + (f": {self.reason}" if self.reason else "")


@dataclass
class StoreResult:
    """Outcomes of a store, in input order (inputs that named no file first)."""

    outcomes: list[InstanceOutcome] = field(default_factory=list)

    def _with(self, status: Status) -> list[InstanceOutcome]:
        return [o for o in self.outcomes if o.status is status]

    @property
    def stored(self) -> list[InstanceOutcome]:
        return self._with(Status.STORED)

    @property
    def already_present(self) -> list[InstanceOutcome]:
        return self._with(Status.ALREADY_PRESENT)

    @property
    def failed(self) -> list[InstanceOutcome]:
        return self._with(Status.FAILED)

    @property
    def quarantined(self) -> list[InstanceOutcome]:
        return self._with(Status.QUARANTINED)

    @property
    def ok(self) -> bool:
        """No input failed."""
        return not self.failed

    @property
    def study_instance_uids(self) -> list[str]:
        """Studies that now hold an instance of the inputs (stored or already present)."""
        return sorted(
            {o.study_instance_uid for o in self.outcomes if o.status in HELD and o.study_instance_uid}
        )

    def by_study(self) -> dict[str, dict[str, Any]]:
        """Per study now holding inputs (stored or already present): its series, instances and bytes."""
        out: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            if o.status not in HELD or not o.study_instance_uid:
                continue
            entry = out.setdefault(
                o.study_instance_uid, {"series_instance_uids": [], "instances": 0, "bytes": 0}
            )
            if o.series_instance_uid and o.series_instance_uid not in entry["series_instance_uids"]:
                entry["series_instance_uids"].append(o.series_instance_uid)
            entry["instances"] += 1
            entry["bytes"] += o.size or 0
        return out

    def summary(self, max_failures: int = 100) -> dict[str, Any]:
        """A small dict for logs and XCom: counts, study UIDs and the first failures with their reasons."""
        failed = self.failed
        return {
            "stored": len(self.stored),
            "already_present": len(self.already_present),
            "failed": len(failed),
            "quarantined": len(self.quarantined),
            "study_instance_uids": self.study_instance_uids,
            "failures": [{"path": o.path, "reason": str(o)} for o in failed[:max_failures]],
            "quarantines": [{"path": o.path, "reason": o.reason} for o in self.quarantined[:max_failures]],
        }

    def __str__(self) -> str:
        held_back = f", {len(self.quarantined)} quarantined" if self.quarantined else ""
        return (
            f"{len(self.stored)} stored, {len(self.already_present)} already present, "
            f"{len(self.failed)} failed{held_back}"
        )
