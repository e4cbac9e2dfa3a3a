"""``DimseFindOperator``: a C-FIND, answered as a QIDO-RS search is (DICOM JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.hooks.dimse import DimseHook


class DimseFindOperator(BaseOperator):
    """C-FIND at ``studies``, ``series`` or ``instances`` level with QIDO-RS's filters; the matches as DICOM JSON,
    the shape a :class:`~airflow_dicomweb.operators.search.DicomWebSearchOperator` returns, so a DAG can swap
    one for the other.

    :param dimse_conn_id: the ``dimse`` connection (templated).
    :param level: ``studies``, ``series`` or ``instances``.
    :param study_instance_uid: within this study (templated).
    :param series_instance_uid: within this series (templated).
    :param filters: matching keys to values (templated).
    :param includefield: more attributes to return.
    :param limit: at most this many matches (the C-FIND is cancelled there).
    :param max_xcom_results: more matches than this fail the task, with a message saying so.
    """

    template_fields: Sequence[str] = ("dimse_conn_id", "study_instance_uid", "series_instance_uid", "filters")

    def __init__(
        self,
        *,
        dimse_conn_id: str = DimseHook.default_conn_name,
        level: str = "studies",
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: dict[str, Any] | None = None,
        includefield: list[str] | None = None,
        limit: int | None = None,
        max_xcom_results: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dimse_conn_id = dimse_conn_id
        self.level = level
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.filters = filters
        self.includefield = includefield
        self.limit = limit
        self.max_xcom_results = max_xcom_results

    def execute(self, context: Context) -> list[dict]:
        found: list[dict] = []
        for match in DimseHook(self.dimse_conn_id).find(
            self.level,
            study_instance_uid=self.study_instance_uid or None,
            series_instance_uid=self.series_instance_uid or None,
            filters=self.filters,
            includefield=self.includefield,
            limit=self.limit,
        ):
            found.append(match)
            if len(found) > self.max_xcom_results:
                raise AirflowException(
                    f"C-FIND {self.level} matched more than {self.max_xcom_results} results, too many for XCom: "
                    "set limit, or raise max_xcom_results"
                )
        self.log.info("C-FIND %s: %d matches", self.level, len(found))
        return found
