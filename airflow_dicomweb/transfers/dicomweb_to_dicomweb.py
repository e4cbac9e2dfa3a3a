"""``DicomWebTransferOperator``: copy studies from one service to another (WADO-RS into STOW-RS; a DIMSE peer on
either side)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook, BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.copy.copy import copy_studies
from airflow_dicomweb.core.copy.report import CopyReport
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.progress import ThrottledProgressLog
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.hooks.dimse import DimseHook
from airflow_dicomweb.operators.asset_events import emit_study_events
from airflow_dicomweb.operators.deidentify_option import DeidentifySpec, deidentifier_for, write_mapping
from airflow_dicomweb.operators.lineage import LineageNotes, dicomweb_dataset_name, storage_dataset_name
from airflow_dicomweb.operators.storage_paths import to_path
from airflow_dicomweb.operators.store import read_manifest
from airflow_dicomweb.operators.viewer_link import StudyViewerLink, save_viewer_link

MAX_PROBLEMS_IN_MESSAGE = 20


def side(conn_id: str) -> DicomWebHook | DimsePeer:
    """The hook of a ``dicomweb`` connection, or the peer of a ``dimse`` one."""
    if BaseHook.get_connection(conn_id).conn_type == DimseHook.conn_type:
        return DimseHook(conn_id).peer
    return DicomWebHook(conn_id)


def dataset_name(service: DicomWebHook | DimsePeer, study: str | None) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a study (or of the whole service) on either kind of side."""
    if isinstance(service, DimsePeer):
        tail = f"/studies/{study}" if study else ""
        return f"dimse://{service.host}:{service.port}", f"/{service.called_aet}{tail}"
    return dicomweb_dataset_name(service.settings.base_url, study)


class DicomWebTransferOperator(BaseOperator):
    """Copy studies from the ``source_conn_id`` service to the ``dest_conn_id`` service.

    Instances stream from the source's WADO-RS responses into the destination's STOW-RS requests: nothing is
    written to the worker's disk, and memory stays within a few batches whatever a study's size. The bytes
    are those the source stored (``transfer-syntax=*``). What the destination holds already is skipped, so a
    retried or re-run task sends only what is missing. With ``verify`` (the default), the destination's
    instances of each study are listed after the copy and compared with the source's: an instance it
    acknowledged but does not list is named, and the task fails.

    Not deferrable: the task moves bytes from start to end, with no wait to hand to the triggerer.

    :param source_conn_id: the connection read from (templated): ``dicomweb``, or ``dimse`` (C-FIND lists, C-GET
        reads).
    :param dest_conn_id: the connection written to (templated): ``dicomweb``, or ``dimse`` (C-STORE; its
        C-FIND, if it answers one, checks what it holds).
    :param study_instance_uids: the studies to copy (templated; a list, or one UID).
    :param filters: instead, every study of the source matching these QIDO-RS filters (templated; ``{}``
        for every study).
    :param manifest: instead, a text file (local path or object-store URL; templated) naming the studies
        one per line: a mapped task per shard of a migration gets one path through XCom, not its studies.
    :param verify: compare both sides after copying (default True).
    :param report_path: write the whole report, every failure and missing instance named, as JSON here (a
        path or object-store URL; templated).
    :param fail_on_error: fail the task if any study is not whole at the destination (after trying every
        study); with False the problems are in the returned summary.
    :param max_xcom_studies: at most this many studies' counts in the returned summary.
    :param deidentify: de-identify every instance in memory between the two sides (PS3.15 Basic Profile; no
        identified copy is written anywhere): the ID of the connection whose password is the key, or a dict
        ``{"key_conn_id", "retain", "mapping_path"}`` (templated). The destination is checked and verified by
        the new UIDs, so a re-run sends nothing new; the report, the summary and the lineage name the
        destination's studies only (the source side of lineage is the service as a whole), so no report is
        a mapping. Instances held back (pixels that may show identity) are ``quarantined`` with their
        reasons and do not fail the task.
    :return: ``{"source", "destination", "studies", "copied", "already_present", "failed",
        "missing_after_verify", "ok", "studies_detail", "problems", ...}``, bounded.
    """

    template_fields: Sequence[str] = (
        "source_conn_id",
        "dest_conn_id",
        "study_instance_uids",
        "filters",
        "manifest",
        "report_path",
        "deidentify",
    )
    ui_color = "#d5f5e3"
    operator_extra_links = (StudyViewerLink(),)

    def __init__(
        self,
        *,
        source_conn_id: str,
        dest_conn_id: str,
        study_instance_uids: Any = None,
        filters: dict[str, Any] | None = None,
        manifest: Any = None,
        verify: bool = defaults.COPY_VERIFY,
        report_path: Any = None,
        streams: int = defaults.COPY_STREAMS,
        concurrency: int = defaults.COPY_CONCURRENCY,
        max_instance_mib: int = defaults.COPY_MAX_INSTANCE_MIB,
        fail_on_error: bool = True,
        max_xcom_studies: int = defaults.MAX_XCOM_ITEMS,
        progress_interval: float = 15.0,
        deidentify: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if sum(x is not None for x in (study_instance_uids, filters, manifest)) != 1:
            raise ValueError("name the studies to copy once: study_instance_uids, filters or manifest")
        self.source_conn_id = source_conn_id
        self.dest_conn_id = dest_conn_id
        self.study_instance_uids = study_instance_uids
        self.filters = filters
        self.manifest = manifest
        self.verify = verify
        self.report_path = report_path
        self.streams = streams
        self.concurrency = concurrency
        self.max_instance_mib = max_instance_mib
        self.fail_on_error = fail_on_error
        self.max_xcom_studies = max_xcom_studies
        self.progress_interval = progress_interval
        self.deidentify = deidentify
        self.lineage_notes = LineageNotes()

    @cached_property
    def source(self) -> DicomWebHook | DimsePeer:
        return side(self.source_conn_id)

    @cached_property
    def dest(self) -> DicomWebHook | DimsePeer:
        return side(self.dest_conn_id)

    def studies(self) -> list[str] | None:
        if self.manifest is not None:
            return read_manifest(self.manifest)
        if self.study_instance_uids is None:
            return None
        if isinstance(self.study_instance_uids, str):
            return [self.study_instance_uids]
        return [str(uid) for uid in self.study_instance_uids]

    def execute(self, context: Context) -> dict[str, Any]:
        progress = ThrottledProgressLog(self.log, "copy", self.progress_interval)  # type: ignore[arg-type]
        spec = DeidentifySpec.parse(self.deidentify)
        deidentifier = deidentifier_for(spec) if spec is not None else None
        try:
            options: dict[str, Any] = {
                "verify": self.verify,
                "streams": self.streams,
                "concurrency": self.concurrency,
                "max_instance_mib": self.max_instance_mib,
                "progress": progress,
                "deidentifier": deidentifier,
            }
            if isinstance(self.source, DicomWebHook):  # the hook tells the lineage collector too
                report = self.source.copy_studies_to(self.dest, self.studies(), self.filters, **options)
            else:
                report = copy_studies(self.source, self.dest, self.studies(), self.filters, **options)
        finally:
            for hook in (self.source, self.dest):
                if isinstance(hook, DicomWebHook):
                    hook.close()
        self.log.info("copy from %s to %s: %s", report.source, report.destination, report)
        write_mapping(spec, deidentifier)
        if self.report_path is not None:
            written = report.write(to_path(self.report_path))
            self.lineage_notes.outputs.append(storage_dataset_name(str(written)))
            self.log.info("the whole report is at %s", written)
        self._note_lineage(context, report, deidentified=deidentifier is not None)
        if not report.ok and self.fail_on_error:
            problems = report.problems(MAX_PROBLEMS_IN_MESSAGE + 1)
            lines = problems[:MAX_PROBLEMS_IN_MESSAGE]
            if len(problems) > MAX_PROBLEMS_IN_MESSAGE:
                lines.append("... and more (see the task log and the report)")
            raise AirflowException(f"the copy is not whole ({report}):\n" + "\n".join(lines))
        return report.summary(self.max_xcom_studies)

    def _note_lineage(self, context: Context, report: CopyReport, *, deidentified: bool) -> None:
        """OpenLineage: the source's studies read (the source as a whole when de-identifying: a study of each
        side would be a mapping), the destination's written; asset events on the outlets."""
        whole = {
            s.study_instance_uid: {"instances": s.copied + s.already_present} for s in report.studies if s.ok
        }
        if deidentified:
            self.lineage_notes.inputs.append(dataset_name(self.source, None))
        else:
            self.lineage_notes.inputs.extend(
                dataset_name(self.source, s.study_instance_uid) for s in report.studies
            )
        self.lineage_notes.outputs.extend(dataset_name(self.dest, uid) for uid in whole)
        if isinstance(self.dest, DicomWebHook):
            save_viewer_link(self, self.dest.settings, whole)
        if self.outlets and isinstance(self.dest, DicomWebHook):
            base = self.dest.settings.base_url
            emit_study_events(list(self.outlets), context, base, "copy", self.dest_conn_id, whole)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self.lineage_notes.operator_lineage()
