"""``DicomWebRetrieveOperator``: a study, series or instance into a folder (WADO-RS), resumably."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.progress import Progress
from airflow_dicomweb.core.storage.paths import exists, size
from airflow_dicomweb.operators.resource import RESOURCE_TEMPLATE_FIELDS, DicomWebResourceOperator


class DicomWebRetrieveOperator(DicomWebResourceOperator):
    """Retrieve instances into ``dest_dir/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``.

    :param study_instance_uid: the study (templated); with ``series_instance_uid`` a series, and with
        ``sop_instance_uid`` too, one instance.
    :param dest_dir: the destination folder (templated; ``{study_instance_uid}``-style placeholders).
    :param transfer_syntax: ``*`` (the default) asks for the stored bytes; a UID or a name (``htj2k``,
        ``jpeg-ls``...) asks the server to transcode to it; None lets the server choose.
    :param skip_existing: files already complete are not fetched again, so a retried task resumes.
    :param series_concurrency: fetch a study's series as this many parallel streams. By default (None)
        the series are listed and up to 4 fetched at once; 1 forces a single stream.
    :param max_xcom_paths: return the written paths when there are at most this many, else only the count.
    :return: ``{"folder", "count", "paths"}`` (``paths`` left out when there are too many).
    """

    template_fields: Sequence[str] = (*RESOURCE_TEMPLATE_FIELDS, "dest_dir", "transfer_syntax")
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        study_instance_uid: str,
        dest_dir: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        skip_existing: bool = defaults.RESUME_RETRIEVES,
        series_concurrency: int | None = None,
        max_xcom_paths: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            **kwargs,
        )
        self.dest_dir = dest_dir
        self.transfer_syntax = transfer_syntax
        self.skip_existing = skip_existing
        self.series_concurrency = series_concurrency
        self.max_xcom_paths = max_xcom_paths

    def execute(self, context: Context) -> dict[str, Any]:
        dest = self.output_file(self.dest_dir)
        ts = self.transfer_syntax or None
        log = self.progress_log("retrieved")
        reports: list[Progress] = []

        def progress(report: Progress) -> None:
            reports[:] = [report]
            log(report)

        if self.sop_instance_uid:
            if not self.series_instance_uid:
                raise ValueError("sop_instance_uid needs series_instance_uid")
            target = dest.joinpath(
                self.study_instance_uid, self.series_instance_uid, f"{self.sop_instance_uid}.dcm"
            )
            paths: list[Any]
            if self.skip_existing and exists(target):
                paths = [target]
            else:
                paths = self.hook.retrieve_instance(
                    self.study_instance_uid, self.series_instance_uid, self.sop_instance_uid, dest, ts
                )
        elif self.series_instance_uid:
            paths = self.hook.retrieve_series(
                self.study_instance_uid,
                self.series_instance_uid,
                dest,
                ts,
                skip_existing=self.skip_existing,
                progress=progress,
            )
        else:
            paths = self.hook.retrieve_study(
                self.study_instance_uid,
                dest,
                ts,
                skip_existing=self.skip_existing,
                series_concurrency=self.series_concurrency,
                progress=progress,
            )
        self.log.info("retrieved %d files into %s", len(paths), dest)
        series = sorted({p.parent.name for p in paths})
        nbytes = reports[0].bytes_done if reports else sum(size(p) for p in paths)
        self.emit_study_events(
            context,
            "retrieve",
            {
                self.study_instance_uid: {
                    "series_instance_uids": series,
                    "instances": len(paths),
                    "bytes": nbytes,
                }
            },
        )
        out: dict[str, Any] = {"folder": str(dest), "count": len(paths)}
        if len(paths) <= self.max_xcom_paths:
            out["paths"] = [str(p) for p in paths]
        return out
