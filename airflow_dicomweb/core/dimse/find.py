"""C-FIND (PS3.4 C.4.1) at study, series and instance level, with the filters of QIDO-RS and its answer's
shape: DICOM JSON datasets, so a DAG can swap a DICOMweb source for a DIMSE one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dimse.association import associated, no_answer
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DicomWebConfigError, DimseError, DimseStatusError
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.uids import validate_uid

#: QIDO-RS levels and their Query/Retrieve Level (PS3.4 C.6.2: the Study Root model).
LEVELS = {"studies": "STUDY", "series": "SERIES", "instances": "IMAGE"}
#: What each level returns without being asked, as a QIDO-RS search does (PS3.18 Table 10.6.3-3 to -5).
RETURN_KEYS = {
    "studies": (
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy", "ReferringPhysicianName",
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
        "StudyDescription", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    ),
    "series": (
        "Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID", "NumberOfSeriesRelatedInstances",
        "StudyInstanceUID",
    ),
    "instances": ("SOPClassUID", "SOPInstanceUID", "InstanceNumber", "StudyInstanceUID", "SeriesInstanceUID"),
}  # fmt: skip
PENDING = (0xFF00, 0xFF01)


def keyword(key: str) -> str:
    """A filter's key as a keyword: ``PatientName`` as it is, ``00100010`` looked up."""
    if tag_for_keyword(key) is not None:
        return key
    try:
        found = keyword_for_tag(int(key, 16))
    except ValueError:
        found = ""
    if not found:
        raise DicomWebConfigError(f"{key!r} is not a DICOM keyword or tag a C-FIND can match")
    return found


def identifier(
    level: str,
    filters: Mapping[str, FilterValue] | None,
    study_instance_uid: str | None,
    series_instance_uid: str | None,
    includefield: Iterable[str] | None,
) -> Dataset:
    """The C-FIND identifier of a QIDO-RS-like search."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    ds = Dataset()
    ds.QueryRetrieveLevel = LEVELS[level]
    for name in (*RETURN_KEYS[level], *(keyword(k) for k in includefield or ())):
        setattr(ds, name, None)
    if study_instance_uid is not None:
        ds.StudyInstanceUID = validate_uid(study_instance_uid, "study_instance_uid")
    if series_instance_uid is not None:
        ds.SeriesInstanceUID = validate_uid(series_instance_uid, "series_instance_uid")
    for key, value in (filters or {}).items():
        name = keyword(key)
        if isinstance(value, list | tuple):
            value = "\\".join(str(v) for v in value)  # a list of UIDs (PS3.4 C.2.2.2.2): backslashes
        elif isinstance(value, bool):
            value = str(value).lower()
        value = str(value)
        if dictionary_VR(name) == "UI":
            value = value.replace(",", "\\")  # QIDO-RS writes a UID list with commas
        setattr(ds, name, value)
    return ds


def find(
    peer: DimsePeer,
    level: str,
    *,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    filters: Mapping[str, FilterValue] | None = None,
    includefield: Iterable[str] | None = None,
    limit: int | None = None,
) -> Iterator[dict]:
    """Matches one by one, as DICOM JSON (what QIDO-RS answers). ``limit`` (by default at most
    :data:`~airflow_dicomweb.core.defaults.DIMSE_MAX_FIND_RESULTS`) cancels the C-FIND once reached."""
    query = identifier(level, filters, study_instance_uid, series_instance_uid, includefield)
    cap = defaults.DIMSE_MAX_FIND_RESULTS if limit is None else limit
    model = StudyRootQueryRetrieveInformationModelFind
    with associated(peer, [build_context(model)]) as assoc:
        count = 0
        for status, found in assoc.send_c_find(query, model, msg_id=1):
            code = getattr(status, "Status", None)
            if code is None:
                raise DimseError(no_answer(peer, "C-FIND"))
            if code in PENDING:
                if count >= cap:
                    assoc.send_c_cancel(1, query_model=model)
                    continue
                count += 1
                if found is not None:
                    answer = found.to_json_dict()
                    answer.pop("00080052", None)  # QueryRetrieveLevel: ours, not the match's
                    yield answer
            elif code in (0x0000, 0xFE00):
                return
            else:
                raise DimseStatusError(
                    f"{peer.name} answered C-FIND with status 0x{code:04X}"
                    + (f" ({status.ErrorComment})" if "ErrorComment" in status else ""),
                    status=code,
                )
