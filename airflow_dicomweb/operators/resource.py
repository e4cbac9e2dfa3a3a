"""What the operators on one DICOMweb resource share: the study, series and instance they name (templated,
and filling ``{study_instance_uid}``-style placeholders in their paths)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_dicomweb.operators.base import DicomWebBaseOperator

#: The template fields of a resource: its UIDs and the connection.
RESOURCE_TEMPLATE_FIELDS: tuple[str, ...] = (
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
    "dicomweb_conn_id",
)


class DicomWebResourceOperator(DicomWebBaseOperator):
    """Base of the operators on a study, a series (with ``series_instance_uid``) or an instance (with
    ``sop_instance_uid`` too).

    :param study_instance_uid: the study (templated).
    :param series_instance_uid: the series (templated).
    :param sop_instance_uid: the instance (templated).
    """

    template_fields: Sequence[str] = RESOURCE_TEMPLATE_FIELDS

    def __init__(
        self,
        *,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.sop_instance_uid = sop_instance_uid
