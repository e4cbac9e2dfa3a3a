"""What the quality gate found: one finding per problem, naming the check, the study, series or instance (and
file) at fault, and the reason; never a patient's name or ID."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The checks, by the name a user gives (``--check``, ``checks=``).
SERIES_COMPLETENESS = "series-completeness"
ONE_PATIENT_PER_STUDY = "one-patient-per-study"
PIXEL_DATA_DECODES = "pixel-data-decodes"
NAMES_IN_FREE_TEXT = "names-in-free-text"
CHECKS = (SERIES_COMPLETENESS, ONE_PATIENT_PER_STUDY, PIXEL_DATA_DECODES, NAMES_IN_FREE_TEXT)


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem: which check, where (the instance, or a whole series or study), and why."""

    check: str
    study_instance_uid: str
    reason: str
    series_instance_uid: str = ""
    sop_instance_uid: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = self.sop_instance_uid or self.series_instance_uid or self.study_instance_uid
        level = "instance" if self.sop_instance_uid else "series" if self.series_instance_uid else "study"
        return f"{self.check}: {level} {where}: {self.reason}"
