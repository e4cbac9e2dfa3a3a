"""``DicomWebSearchOperator``: QIDO-RS search for studies, series or instances."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.json_model import first_value
from airflow_dicomweb.core.storage.paths import AtomicWriter
from airflow_dicomweb.operators.base import DicomWebBaseOperator
from airflow_dicomweb.operators.template_values import as_bool, as_int, as_optional_int
from airflow_dicomweb.operators.viewer_link import save_viewer_link


class DicomWebSearchOperator(DicomWebBaseOperator):
    """Search, through every page unless ``limit`` says otherwise.

    :param level: ``studies``, ``series`` or ``instances``.
    :param filters: attribute keywords or tags to values (templated), e.g. ``{"StudyDate": "{{ ds_nodash }}"}``.
    :param output_path: write the matches as a JSON array to this file (streamed, so any number fits) and
        return the path; ``{study_instance_uid}``-style placeholders are filled. Without it, the matches are
        returned for XCom, and more than ``max_xcom_results`` of them fail the task with a clear message.
    :return: the matching DICOM JSON datasets, or the path of the file holding them.
    """

    template_fields: Sequence[str] = (
        "level",
        "filters",
        "study_instance_uid",
        "series_instance_uid",
        "includefield",
        "limit",
        "offset",
        "output_path",
        "dicomweb_conn_id",
    )
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e8f8f5"

    def __init__(
        self,
        *,
        level: str = "studies",
        filters: dict | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        includefield: Any = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
        output_path: str | None = None,
        max_xcom_results: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.level = level
        self.filters = filters
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.includefield = includefield
        self.fuzzymatching = fuzzymatching
        self.limit = limit
        self.offset = offset
        self.output_path = output_path
        self.max_xcom_results = max_xcom_results

    def execute(self, context: Context) -> list[dict] | str:
        results = self.hook.iter_search(
            self.level,
            study_instance_uid=self.study_instance_uid or None,
            series_instance_uid=self.series_instance_uid or None,
            filters=self.filters or None,
            includefield=self.includefield or None,
            fuzzymatching=as_bool(self.fuzzymatching, "fuzzymatching"),
            limit=as_optional_int(self.limit, "limit"),
            offset=as_int(self.offset, "offset", default=0),
        )
        if self.output_path:
            path = self.output_file(self.output_path)
            count = 0
            with AtomicWriter(path) as out:  # streamed: any number of matches, appearing only when complete
                out.write(b"[")
                for count, item in enumerate(results, 1):
                    out.write((("," if count > 1 else "") + "\n" + json.dumps(item)).encode())
                out.write(b"\n]\n")
            self.log.info("search %s: %d matches written to %s", self.level, count, path)
            return str(path)
        found: list[dict] = []
        for item in results:
            found.append(item)
            if len(found) > self.max_xcom_results:
                raise AirflowException(
                    f"search {self.level} matched more than {self.max_xcom_results} results, too many for XCom: "
                    "set output_path to write them to a file, or raise max_xcom_results"
                )
        self.log.info("search %s: %d matches", self.level, len(found))
        studies = [first_value(item, "0020000D") for item in found[:1]]
        save_viewer_link(self, self.hook.settings, [s for s in studies if isinstance(s, str)])
        return found
