"""Which studies a copy moves: UIDs given, or every study of the source matching QIDO-RS filters, listed
once, page by page, before the copy begins (a copy that adds studies to a source it is listing cannot shift
the pages under its own feet)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from airflow_dicomweb.core.dicom.json_model import STUDY_INSTANCE_UID, first_value
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.uids import validate_uid


def select_studies(
    search: Search,
    study_instance_uids: Iterable[str] | None = None,
    filters: Mapping[str, FilterValue] | None = None,
) -> list[str]:
    """The studies to copy, each once, in the order given or found. Give UIDs or filters, not both; filters
    of ``{}`` select every study of the source."""
    if (study_instance_uids is None) == (filters is None):
        raise ValueError("name the studies to copy: study UIDs or search filters (one of the two)")
    if study_instance_uids is not None:
        if isinstance(study_instance_uids, str):
            study_instance_uids = [study_instance_uids]
        chosen = [validate_uid(uid.strip(), "StudyInstanceUID") for uid in study_instance_uids]
    else:
        chosen = [
            validate_uid(first_value(item, STUDY_INSTANCE_UID), "StudyInstanceUID in a search result")
            for item in search.iter_search("studies", filters=filters)
        ]
    return list(dict.fromkeys(chosen))
