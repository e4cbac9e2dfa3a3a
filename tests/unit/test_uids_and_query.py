import datetime as dt

import pytest

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.qido.query import build_query, normalize_attribute
from airflow_dicomweb.core.uids import is_valid_uid, validate_uid


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2.1", "0", "1.2.0.3", "1.2.0034", "1" * 64])
def test_valid_uids(uid):
    assert validate_uid(uid) == uid


@pytest.mark.parametrize(
    "uid, message",
    [
        ("", "is empty"),
        ("1.2.abc", "not a DICOM UID"),
        ("../../etc", "not a DICOM UID"),
        ("1..2", "not a DICOM UID"),
        (".1.2", "not a DICOM UID"),
        ("1.2.", "not a DICOM UID"),
        ("1.2/3", "not a DICOM UID"),
        ("1.2\n", "not a DICOM UID"),
        ("1" * 65, "65 characters"),
        (None, "must be a string"),
    ],
)
def test_invalid_uids_name_the_value(uid, message):
    with pytest.raises(InvalidUIDError, match=message):
        validate_uid(uid, "study_instance_uid")
    assert not is_valid_uid(uid)


def test_attributes_keywords_and_tags():
    assert normalize_attribute("PatientName") == "PatientName"
    assert normalize_attribute("00100010") == "00100010"
    assert normalize_attribute("(0010,0020)") == "00100020"
    assert normalize_attribute("0008,1030") == "00081030"
    assert normalize_attribute("7fe00010") == "7FE00010"
    with pytest.raises(ValueError, match="unknown DICOM keyword 'PatientNmae'"):
        normalize_attribute("PatientNmae")


def test_query_keeps_wildcards_and_lists_raw_and_encodes_the_rest():
    q = build_query(
        {"PatientName": "DO?^J*", "ModalitiesInStudy": ["CT", "MR"], "StudyDescription": "a b&c=d"},
        includefield=["PatientAge", "00081030"],
        fuzzymatching=True,
        limit=10,
        offset=20,
    )
    assert q == (
        "PatientName=DO?%5EJ*&ModalitiesInStudy=CT,MR&StudyDescription=a%20b%26c%3Dd"
        "&includefield=PatientAge,00081030&fuzzymatching=true&limit=10&offset=20"
    )


def test_query_dates_ranges_and_includefield_all():
    q = build_query({"StudyDate": dt.date(2024, 1, 15), "00080020": "20240101-20240131"}, includefield="all")
    assert q == "StudyDate=20240115&00080020=20240101-20240131&includefield=all"
    assert build_query() == ""


def test_caret_as_wildcard_for_servers_that_do_not_decode_queries():
    assert build_query({"PatientName": "DOE^JOHN"}) == "PatientName=DOE%5EJOHN"
    assert build_query({"PatientName": "DOE^JOHN"}, caret_as_wildcard=True) == "PatientName=DOE?JOHN"
