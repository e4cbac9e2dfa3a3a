"""What a copy between two services did, per study: instances copied, already present at the destination,
failed (each named, with its reason), and missing after verification; in all, bounded for XCom, and whole as
a JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core.storage.paths import Destination, StoragePath, as_path, write_atomically
from airflow_dicomweb.core.stow.result import InstanceOutcome

#: Verification states of a study.
VERIFIED = "verified"
NOT_ASKED = "not asked"


@dataclass
class StudyCopy:
    """One study's copy. ``missing_after_verify`` names the instances the source holds that the destination
    does not list after the copy, though none was reported failed: a destination that acknowledged an
    instance and did not keep it, or an instance the source listed and did not send."""

    study_instance_uid: str
    #: Instances the source listed (None: it could not list them; what it sent was copied).
    source_instances: int | None = None
    #: Instances the destination lists after the copy (None: not verified).
    destination_instances: int | None = None
    copied: int = 0
    already_present: int = 0
    bytes_copied: int = 0
    failures: list[InstanceOutcome] = field(default_factory=list)
    #: Held back by de-identification (pixels that may show identity), each with its reason.
    quarantined: list[InstanceOutcome] = field(default_factory=list)
    missing_after_verify: list[str] = field(default_factory=list)
    #: ``verified``, ``not asked``, or why the destination could not be checked.
    verification: str = NOT_ASKED
    #: What stopped the study as a whole (the source does not hold it, a response that could not be read).
    error: str = ""

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        """Every selected instance is at the destination (as far as it was checked)."""
        return not (self.failures or self.missing_after_verify or self.error)

    def problems(self) -> list[str]:
        """One line per thing that went wrong, naming the study and the instance."""
        lines = [f"study {self.study_instance_uid}: {self.error}"] if self.error else []
        lines += [f"study {self.study_instance_uid}: {o}" for o in self.failures]
        lines += [
            f"study {self.study_instance_uid}: instance {uid} is not at the destination after the copy "
            "(acknowledged or found there, then not listed)"
            for uid in self.missing_after_verify
        ]
        return lines

    def counts(self) -> dict[str, Any]:
        return {
            "study_instance_uid": self.study_instance_uid,
            "source_instances": self.source_instances,
            "destination_instances": self.destination_instances,
            "copied": self.copied,
            "already_present": self.already_present,
            "failed": self.failed,
            "quarantined": len(self.quarantined),
            "missing_after_verify": len(self.missing_after_verify),
            "bytes_copied": self.bytes_copied,
            "verification": self.verification,
            "error": self.error,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "failures": [
                {"instance": o.path, "sop_instance_uid": o.sop_instance_uid, "reason": str(o)}
                for o in self.failures
            ],
            "missing_instances": list(self.missing_after_verify),
            "quarantined_instances": [{"instance": o.path, "reason": o.reason} for o in self.quarantined],
        }


@dataclass
class CopyReport:
    """Every study of a copy, in the order copied."""

    source: str
    destination: str
    studies: list[StudyCopy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.studies)

    def totals(self) -> dict[str, int]:
        return {
            "studies": len(self.studies),
            "studies_ok": sum(s.ok for s in self.studies),
            "copied": sum(s.copied for s in self.studies),
            "already_present": sum(s.already_present for s in self.studies),
            "failed": sum(s.failed for s in self.studies),
            "quarantined": sum(len(s.quarantined) for s in self.studies),
            "missing_after_verify": sum(len(s.missing_after_verify) for s in self.studies),
            "studies_with_errors": sum(bool(s.error) for s in self.studies),
            "bytes_copied": sum(s.bytes_copied for s in self.studies),
        }

    def problems(self, limit: int | None = None) -> list[str]:
        lines: list[str] = []
        for study in self.studies:
            lines += study.problems()
            if limit is not None and len(lines) >= limit:
                return lines[:limit]
        return lines

    def summary(self, max_studies: int, max_problems: int = 100) -> dict[str, Any]:
        """For XCom and logs: the totals, the counts of the first ``max_studies`` studies, the first
        ``max_problems`` problems named; bounded whatever the copy's size."""
        return {
            "source": self.source,
            "destination": self.destination,
            **self.totals(),
            "ok": self.ok,
            "studies_detail": [s.counts() for s in self.studies[:max_studies]],
            "studies_detail_truncated": len(self.studies) > max_studies,
            "problems": self.problems(max_problems),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, every failure and missing instance named (for the report file)."""
        return {
            "source": self.source,
            "destination": self.destination,
            **self.totals(),
            "ok": self.ok,
            "studies": [s.to_dict() for s in self.studies],
        }

    def write(self, location: Destination) -> StoragePath:
        """The whole report as JSON at ``location`` (a path or an object-store URL), written atomically."""
        return write_atomically(as_path(location), json.dumps(self.to_dict(), indent=1).encode("utf-8"))

    def __str__(self) -> str:
        t = self.totals()
        return (
            f"{t['studies']} studies: {t['copied']} instances copied, {t['already_present']} already present, "
            f"{t['failed']} failed, {t['missing_after_verify']} missing after verification"
            + (f", {t['quarantined']} quarantined" if t["quarantined"] else "")
            + (f", {t['studies_with_errors']} studies not copied" if t["studies_with_errors"] else "")
        )
