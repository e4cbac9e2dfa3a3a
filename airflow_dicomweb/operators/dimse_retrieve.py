"""``DimseRetrieveOperator``: a study, series or instance into a folder by C-GET."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.hooks.dimse import DimseHook
from airflow_dicomweb.operators.storage_paths import to_path


class DimseRetrieveOperator(BaseOperator):
    """C-GET into ``{study}/{series}/{sop}.dcm`` under ``dest_dir`` (a folder or an object-store URL), each
    file appearing only once whole.

    :param dimse_conn_id: the ``dimse`` connection (templated).
    :param study_instance_uid: the study (templated); with ``series_instance_uid`` and ``sop_instance_uid``
        a series or one instance.
    :param dest_dir: where (templated).
    :param fail_on_error: fail the task when the peer failed a sub-operation or an instance was not written.
    :param max_xcom_paths: return the written paths when there are at most this many, else only the count.
    :return: ``{"folder", "count", "completed", "failed", "warning", "failures", "paths"}``.
    """

    template_fields: Sequence[str] = (
        "dimse_conn_id",
        "study_instance_uid",
        "series_instance_uid",
        "sop_instance_uid",
        "dest_dir",
    )

    def __init__(
        self,
        *,
        study_instance_uid: str,
        dest_dir: Any,
        dimse_conn_id: str = DimseHook.default_conn_name,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        fail_on_error: bool = True,
        max_xcom_paths: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dimse_conn_id = dimse_conn_id
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.sop_instance_uid = sop_instance_uid
        self.dest_dir = dest_dir
        self.fail_on_error = fail_on_error
        self.max_xcom_paths = max_xcom_paths

    def execute(self, context: Context) -> dict[str, Any]:
        folder = to_path(self.dest_dir)
        result = DimseHook(self.dimse_conn_id).retrieve(
            folder, self.study_instance_uid, self.series_instance_uid or None, self.sop_instance_uid or None
        )
        summary: dict[str, Any] = {
            "folder": str(folder),
            "count": len(result.paths),
            "completed": result.completed,
            "failed": result.failed,
            "warning": result.warning,
            "failures": result.failures[:100],
        }
        if len(result.paths) <= self.max_xcom_paths:
            summary["paths"] = [str(p) for p in result.paths]
        self.log.info(
            "C-GET: %d files in %s, %d failed sub-operations", len(result.paths), folder, result.failed
        )
        if self.fail_on_error and not result.ok:
            raise AirflowException(
                f"C-GET of study {self.study_instance_uid}: {result.failed} sub-operations failed; "
                + "; ".join(result.failures[:20])
            )
        return summary
