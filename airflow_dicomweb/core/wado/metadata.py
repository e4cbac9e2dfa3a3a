"""WADO-RS metadata of a study, series or instance: DICOM JSON datasets, or DICOM XML documents."""

from __future__ import annotations

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM_JSON, DICOM_XML, multipart_accept
from airflow_dicomweb.core.uids import resource_segments
from airflow_dicomweb.core.wado.response import WadoResponses


class RetrieveMetadata:
    """The metadata transactions (WADO-RS) over ``transport``."""

    def __init__(self, transport: Transport, responses: WadoResponses) -> None:
        self.transport = transport
        self.responses = responses

    def _metadata(self, segments: list[str], media_type: str = DICOM_JSON) -> list:
        url = self.transport.url(*segments, "metadata")
        if media_type == DICOM_XML:
            return [
                part.decode("utf-8")
                for part in self.responses.fetch_parts(url, multipart_accept(DICOM_XML), DICOM_XML)
            ]
        if media_type != DICOM_JSON:
            raise ValueError(f"metadata media_type must be {DICOM_JSON} or {DICOM_XML}")
        response = self.transport.request("GET", url, headers={"Accept": DICOM_JSON})
        try:
            data = response.json()
        except ValueError:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: metadata is not JSON; it starts {response.content[:120]!r}"
            ) from None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise DicomWebResponseError(f"GET {self.transport.redact(url)}: metadata is not a JSON array")
        return data

    def retrieve_study_metadata(self, study_instance_uid: str, media_type: str = DICOM_JSON) -> list:
        """Metadata of every instance of a study: DICOM JSON datasets (bulk values as BulkDataURI), or
        one DICOM XML document per instance with ``media_type="application/dicom+xml"``."""
        return self._metadata(resource_segments(study_instance_uid), media_type)

    def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str, media_type: str = DICOM_JSON
    ) -> list:
        """Metadata of every instance of a series (JSON datasets, or XML documents)."""
        return self._metadata(resource_segments(study_instance_uid, series_instance_uid), media_type)

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = DICOM_JSON,
    ) -> dict | str:
        """Metadata of one instance: a DICOM JSON dataset, or a DICOM XML document."""
        data = self._metadata(
            resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid), media_type
        )
        if len(data) != 1:
            raise DicomWebResponseError(
                f"instance metadata of {sop_instance_uid}: {len(data)} datasets, not 1"
            )
        return data[0]
