"""``DicomWebSearchSensor``: waits until a search returns at least N matches (poke, reschedule, deferrable)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.template_values import as_int
from airflow_dicomweb.triggers.search import DicomWebSearchTrigger, count_matches


class DicomWebSearchSensor(BaseSensorOperator):
    """Succeed when a QIDO-RS search has at least ``min_count`` matches: a study has arrived, a series is
    complete.

    :param level: ``studies``, ``series`` or ``instances``.
    :param filters: keywords or tags to values (templated).
    :param min_count: how many matches are enough (templated).
    """

    template_fields: Sequence[str] = (
        "level",
        "filters",
        "study_instance_uid",
        "series_instance_uid",
        "min_count",
        "dicomweb_conn_id",
    )
    template_fields_renderers = {"filters": "json"}
    ui_color = "#f9e79f"

    def __init__(
        self,
        *,
        level: str = "studies",
        filters: dict | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        min_count: int = 1,
        dicomweb_conn_id: str = DicomWebHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.level = level
        self.filters = filters
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.min_count = min_count
        self.dicomweb_conn_id = dicomweb_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> DicomWebHook:
        return DicomWebHook(self.dicomweb_conn_id)

    def _min_count(self) -> int:
        return as_int(self.min_count, "min_count", default=1, minimum=1)

    def _search(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "filters": self.filters,
                "study_instance_uid": self.study_instance_uid,
                "series_instance_uid": self.series_instance_uid,
            }.items()
            if v
        }

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=DicomWebSearchTrigger(
                self.level, self._search(), self._min_count(), self.dicomweb_conn_id, self.poke_interval
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> bool:
        count = count_matches(self.hook, self.level, self._search(), self._min_count())
        self.log.info("search %s: %d of %d matches", self.level, count, self._min_count())
        return count >= self._min_count()

    def execute_complete(self, context: Context, event: dict[str, Any]) -> int:
        if event.get("status") != "success":
            raise AirflowException(f"search failed: {event.get('message')}")
        return int(event["count"])
