"""The quality gate: runs the checks over instances (files, or a study retrieved from a service), and says
what passed, what was found, and which instances are quarantined: an instance's own finding quarantines it; a
series' finding (a gap, uneven spacing) its whole series; a study's (two patients) the whole study. Files can
be moved aside into a quarantine folder, with their reasons beside them."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pydicom import dcmread

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebStorageError
from airflow_dicomweb.core.quality.finding import (
    CHECKS,
    NAMES_IN_FREE_TEXT,
    ONE_PATIENT_PER_STUDY,
    PIXEL_DATA_DECODES,
    SERIES_COMPLETENESS,
    Finding,
)
from airflow_dicomweb.core.quality.instance_facts import InstanceFacts, facts_of
from airflow_dicomweb.core.quality.names_in_free_text import names_finding
from airflow_dicomweb.core.quality.patient_consistency import patient_findings
from airflow_dicomweb.core.quality.pixel_decoding import decoding_finding, require_decoders
from airflow_dicomweb.core.quality.series_completeness import frames_finding, series_findings
from airflow_dicomweb.core.storage.paths import Destination, as_path, move, read_bytes, write_atomically
from airflow_dicomweb.core.stow.inputs import Input, expand_inputs

#: A file that is not a DICOM instance: a finding of its own.
UNREADABLE = "readable"


@dataclass
class GateResult:
    """What the gate saw: instances checked, findings, and the instances (by source) quarantined."""

    checks: tuple[str, ...]
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: source (file or instance URL) -> its reasons
    quarantined: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self, limit: int = 100) -> dict[str, Any]:
        """For XCom (a branch reads ``passed``): counts and the first ``limit`` findings."""
        return {
            "passed": self.passed,
            "checks": list(self.checks),
            "checked": self.checked,
            "findings": [f.to_dict() for f in self.findings[:limit]],
            "more_findings": max(0, len(self.findings) - limit),
            "quarantined": len(self.quarantined),
            "quarantined_sources": sorted(self.quarantined)[:limit],
        }

    def __str__(self) -> str:
        verdict = (
            "passed" if self.passed else f"{len(self.findings)} findings, {len(self.quarantined)} quarantined"
        )
        return f"{self.checked} instances checked ({', '.join(self.checks)}): {verdict}"


class QualityGate:
    """The checks named (every one by default: :data:`~.finding.CHECKS`); ``known_names`` are names that must
    not be left in free text (the patients' names before de-identification)."""

    def __init__(
        self,
        checks: Iterable[str] | None = None,
        *,
        known_names: Iterable[str] = (),
        max_instance_mib: int = defaults.DEID_MAX_INSTANCE_MIB,
    ) -> None:
        chosen = tuple(CHECKS if checks is None else (c.strip() for c in checks if c.strip()))
        unknown = [c for c in chosen if c not in CHECKS]
        if unknown:
            raise DicomWebConfigError(
                f"unknown quality check {unknown[0][:40]!r}: one of {', '.join(CHECKS)}"
            )
        if PIXEL_DATA_DECODES in chosen:
            require_decoders()
        self.checks = chosen
        self.known_names = tuple(known_names)
        self.max_bytes = max_instance_mib * 1024 * 1024

    def __repr__(self) -> str:  # the known names are identity: never shown
        return f"QualityGate(checks={list(self.checks)})"

    def check_files(self, inputs: Iterable[Input] | Input) -> GateResult:
        """Check every file the inputs name (files, folders, patterns, object-store URLs)."""
        files, problems = expand_inputs(inputs)
        result = GateResult(self.checks)
        facts: list[InstanceFacts] = []
        for problem in problems:
            self._unreadable(result, problem.given, problem.reason)
        for found in files:
            source = str(found.location)
            try:
                ds = dcmread(BytesIO(read_bytes(found.location, self.max_bytes)))
                if "SOPInstanceUID" not in ds:
                    raise ValueError("no SOP Instance UID")
            except DicomWebStorageError as exc:
                self._unreadable(result, source, str(exc))
                continue
            except Exception as exc:  # not DICOM, cut short: a finding, and the rest go on
                self._unreadable(result, source, f"not a DICOM instance ({type(exc).__name__})")
                continue
            facts.append(self._check_instance(ds, source, result))
        self._check_groups(facts, result)
        return result

    def check_study(self, service: Any, study_instance_uid: str) -> GateResult:
        """Check a study on a DICOMweb service (a client or hook): its instances are retrieved into a
        temporary folder, checked, and removed; quarantined sources are named by instance."""
        with tempfile.TemporaryDirectory(prefix="dicomweb-gate-") as work:
            service.retrieve_study(study_instance_uid, work)
            result = self.check_files([work])
        renamed: dict[str, list[str]] = {}
        for source, reasons in result.quarantined.items():
            renamed[_instance_name(source, work)] = reasons
        result.quarantined = renamed
        return result

    # --- the checks --------------------------------------------------------------------------------------
    def _check_instance(self, ds: Any, source: str, result: GateResult) -> InstanceFacts:
        facts = facts_of(ds, source)
        result.checked += 1
        found: list[Finding | None] = []
        if SERIES_COMPLETENESS in self.checks:
            found.append(frames_finding(ds, facts))
        if PIXEL_DATA_DECODES in self.checks:
            found.append(decoding_finding(ds, facts))
        if NAMES_IN_FREE_TEXT in self.checks:
            found.append(names_finding(ds, facts, self.known_names))
        for finding in found:
            if finding is not None:
                result.findings.append(finding)
                result.quarantined.setdefault(source, []).append(str(finding))
        return facts

    def _check_groups(self, facts: list[InstanceFacts], result: GateResult) -> None:
        group: list[Finding] = []
        if SERIES_COMPLETENESS in self.checks:
            group += series_findings(facts)
        if ONE_PATIENT_PER_STUDY in self.checks:
            group += patient_findings(facts)
        for finding in group:
            result.findings.append(finding)
            for member in facts:
                same_study = member.study_instance_uid == finding.study_instance_uid
                if same_study and finding.series_instance_uid in ("", member.series_instance_uid):
                    result.quarantined.setdefault(member.source, []).append(str(finding))

    @staticmethod
    def _unreadable(result: GateResult, source: str, reason: str) -> None:
        result.checked += 1
        finding = Finding(UNREADABLE, "", f"{source}: {reason}")
        result.findings.append(finding)
        result.quarantined.setdefault(source, []).append(str(finding))


def quarantine_files(result: GateResult, target: Destination) -> list[str]:
    """Move every quarantined file into ``target`` (a folder or object-store URL) under its own name,
    numbered if two share one, with ``quarantine.jsonl`` (one line per file: ``source``, ``moved_to``,
    ``reasons``); the files moved."""
    folder = as_path(target)
    lines = []
    used: set[str] = set()
    for source, reasons in sorted(result.quarantined.items()):
        location = as_path(source)
        if not _exists(location):
            continue
        name = location.name
        stem, dot, suffix = name.rpartition(".")
        count = 1
        while name in used:
            count += 1
            name = f"{stem}-{count}{dot}{suffix}" if dot else f"{location.name}-{count}"
        used.add(name)
        moved = folder / name
        move(location, moved)
        lines.append(json.dumps({"source": source, "moved_to": str(moved), "reasons": reasons}))
    if lines:
        write_atomically(folder / "quarantine.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
    return [json.loads(line)["source"] for line in lines]


def _exists(location: Any) -> bool:
    try:
        return bool(location.is_file())
    except OSError:
        return False


def _instance_name(source: str, work: str) -> str:
    """A retrieved file's source named by its place below the study's folder (its UIDs), not the temp dir."""
    return source.removeprefix(work).lstrip("/") or source
