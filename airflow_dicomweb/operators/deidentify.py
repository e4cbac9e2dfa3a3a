"""``DicomDeidentifyOperator``: DICOM files de-identified (PS3.15 Basic Profile, keyed and repeatable) from
files, folders or object-store prefixes into a folder or prefix named by the new UIDs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.files import FAILED, deidentify_files, summary, write_report
from airflow_dicomweb.hooks.deidentification import DeidentificationHook
from airflow_dicomweb.operators.storage_paths import as_input, to_path
from airflow_dicomweb.operators.template_values import as_int


class DicomDeidentifyOperator(BaseOperator):
    """De-identify DICOM files into ``output_path``; no service is needed.

    :param source: files, folders, patterns or object-store URLs (templated; a list from XCom too).
    :param output_path: folder or object-store URL (``ObjectStoragePath`` too) to write to, as
        ``{study}/{series}/{instance}.dcm`` of the new UIDs (templated).
    :param key_conn_id: the connection whose password is the key (a secret like any password) (templated).
    :param retain: options of the profile to retain: ``dates-modified``, ``uids``, ``device-identity``,
        ``patient-characteristics`` (templated).
    :param report_path: write one JSON line per input (``source``, ``outcome``, ``output``, ``reason``) here.
    :param mapping_path: write the originals and their replacements here; nowhere else (never XCom, never
        the log). It re-identifies the output: give it a place as safe as the key.
    :param fail_on_error: fail the task when an input failed (not DICOM, unreadable); quarantined inputs
        never fail it.
    :return: ``{"deidentified", "quarantined", "failed", "study_instance_uids", "not_released",
        "more_not_released"}``: the new study UIDs, and the inputs not released with their reasons (reasons
        name attributes, never values); a branch can read it.
    """

    template_fields: Sequence[str] = (
        "source",
        "output_path",
        "key_conn_id",
        "retain",
        "report_path",
        "mapping_path",
    )
    ui_color = "#e8daef"

    def __init__(
        self,
        *,
        source: Any,
        output_path: Any,
        key_conn_id: str = defaults.DEID_KEY_CONN_ID,
        retain: Any = None,
        report_path: Any = None,
        mapping_path: Any = None,
        fail_on_error: bool = True,
        max_instance_mib: int = defaults.DEID_MAX_INSTANCE_MIB,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.output_path = output_path
        self.key_conn_id = key_conn_id
        self.retain = retain
        self.report_path = report_path
        self.mapping_path = mapping_path
        self.fail_on_error = fail_on_error
        self.max_instance_mib = max_instance_mib

    def execute(self, context: Context) -> dict[str, Any]:
        given = self.source if isinstance(self.source, list | tuple) else [self.source]
        inputs = [as_input(s) for s in given if s is not None]
        deidentifier = DeidentificationHook(key_conn_id=self.key_conn_id).deidentifier(
            self.retain, with_mapping=bool(self.mapping_path)
        )
        outcomes = deidentify_files(
            deidentifier,
            inputs,
            to_path(self.output_path),
            max_instance_mib=as_int(
                self.max_instance_mib, "max_instance_mib", default=defaults.DEID_MAX_INSTANCE_MIB, minimum=1
            ),
        )
        if self.report_path:
            write_report(outcomes, to_path(self.report_path))
        if self.mapping_path and deidentifier.mapping is not None:
            deidentifier.mapping.write(to_path(self.mapping_path))
        result = summary(outcomes)
        for outcome in outcomes:
            if outcome.outcome != "deidentified":
                self.log.warning("%s %s: %s", outcome.outcome, outcome.source, outcome.reason)
        self.log.info(
            "de-identified %d, quarantined %d, failed %d",
            result["deidentified"],
            result["quarantined"],
            result["failed"],
        )
        if self.fail_on_error and result[FAILED]:
            failed = [o for o in outcomes if o.outcome == FAILED]
            lines = "\n".join(f"{o.source}: {o.reason}" for o in failed[:20])
            raise AirflowException(
                f"{len(failed)} of {len(outcomes)} inputs were not de-identified:\n{lines}"
            )
        return result
