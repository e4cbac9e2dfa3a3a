"""``DicomQualityGateOperator``: the quality gate over files or a study on a DICOMweb service, its result an
XCom a branch reads (``passed``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebError
from airflow_dicomweb.core.quality.gate import QualityGate, quarantine_files
from airflow_dicomweb.core.storage.paths import open_read
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.storage_paths import as_input, to_path


def read_names(location: Any) -> list[str]:
    """The names a file holds, one per line (blank lines skipped); its content never goes into a message."""
    path = to_path(location)
    try:
        with open_read(path) as stream:
            text = stream.read().decode("utf-8")
    except (DicomWebError, OSError, UnicodeDecodeError) as exc:
        raise AirflowException(f"cannot read the known names at {path}: {type(exc).__name__}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class DicomQualityGateOperator(BaseOperator):
    """Check instances before anything leaves the site: series completeness (InstanceNumber gaps, uneven
    slice spacing, NumberOfFrames against the pixel data), one PatientID per study, pixel data that decodes
    (the ``quality`` extra), and patients' names left in free text.

    Give ``source`` (files, folders, patterns, object-store URLs), or ``study_instance_uid`` with
    ``dicomweb_conn_id`` (the study is retrieved into a temporary folder, checked, and removed).

    :param checks: the checks to run (default: all): ``series-completeness``, ``one-patient-per-study``,
        ``pixel-data-decodes``, ``names-in-free-text``.
    :param known_names_path: a file (local path or object-store URL; templated) naming, one per line, the
        names that must not be left in free text (the patients' names before de-identification, say). Read
        when the task runs: names given as an argument or a template would be stored and shown by Airflow
        (the serialized DAG, the rendered template fields). They are never logged or returned.
    :param quarantine_path: move every quarantined file here (same filesystem as ``source``), with
        ``quarantine.jsonl`` giving each one's reasons; what is left passes.
    :param fail_on_findings: fail the task when anything is found (default False: the result is for a branch).
    :return: ``{"passed", "checks", "checked", "findings", "more_findings", "quarantined",
        "quarantined_sources"}``; findings name checks, studies, series and instances, never a name or an ID.
    """

    template_fields: Sequence[str] = (
        "source",
        "study_instance_uid",
        "dicomweb_conn_id",
        "checks",
        "known_names_path",
        "quarantine_path",
    )
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        source: Any = None,
        study_instance_uid: str | None = None,
        dicomweb_conn_id: str = defaults.CONN_ID,
        checks: Any = None,
        known_names_path: Any = None,
        quarantine_path: Any = None,
        fail_on_findings: bool = False,
        max_xcom_findings: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (source is None) == (study_instance_uid is None):
            raise ValueError("give the quality gate either source or study_instance_uid")
        self.source = source
        self.study_instance_uid = study_instance_uid
        self.dicomweb_conn_id = dicomweb_conn_id
        self.checks = checks
        self.known_names_path = known_names_path
        self.quarantine_path = quarantine_path
        self.fail_on_findings = fail_on_findings
        self.max_xcom_findings = max_xcom_findings

    def execute(self, context: Context) -> dict[str, Any]:
        checks = [self.checks] if isinstance(self.checks, str) else self.checks
        names = read_names(self.known_names_path) if self.known_names_path else []
        try:
            gate = QualityGate(checks, known_names=names)
        except DicomWebConfigError as exc:
            raise AirflowException(str(exc)) from None
        if self.study_instance_uid is not None:
            hook = DicomWebHook(self.dicomweb_conn_id)
            try:
                result = gate.check_study(hook, str(self.study_instance_uid))
            finally:
                hook.close()
        else:
            given = self.source if isinstance(self.source, list | tuple) else [self.source]
            result = gate.check_files([as_input(s) for s in given if s is not None])
            if self.quarantine_path and result.quarantined:
                moved = quarantine_files(result, to_path(self.quarantine_path))
                self.log.info("moved %d files to the quarantine at %s", len(moved), self.quarantine_path)
        for finding in result.findings[:100]:
            self.log.warning("%s", finding)
        self.log.info("quality gate: %s", result)
        if self.fail_on_findings and not result.passed:
            lines = "\n".join(str(f) for f in result.findings[:20])
            raise AirflowException(f"the quality gate found problems ({result}):\n{lines}")
        return result.summary(self.max_xcom_findings)
