"""One patient per study: every instance of a study carries the same PatientID. A finding names the study
and the instances that differ from its first, never the IDs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from airflow_dicomweb.core.quality.finding import ONE_PATIENT_PER_STUDY, Finding
from airflow_dicomweb.core.quality.instance_facts import InstanceFacts

MAX_NAMED = 10


def patient_findings(instances: Iterable[InstanceFacts]) -> list[Finding]:
    by_study: dict[str, list[InstanceFacts]] = defaultdict(list)
    for facts in instances:
        by_study[facts.study_instance_uid].append(facts)
    findings = []
    for study, members in by_study.items():
        ids = {m.patient_id for m in members}
        if len(ids) < 2:
            continue
        first = members[0].patient_id
        other = [m.sop_instance_uid for m in members if m.patient_id != first]
        shown = ", ".join(other[:MAX_NAMED]) + (
            f" and {len(other) - MAX_NAMED} more" if len(other) > MAX_NAMED else ""
        )
        findings.append(
            Finding(
                ONE_PATIENT_PER_STUDY,
                study,
                f"{len(ids)} different PatientIDs in one study: instances {shown} differ from the first",
            )
        )
    return findings
