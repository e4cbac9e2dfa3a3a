"""QIDO-RS through the hook against the real Orthanc."""

import pytest
from pydicom.uid import generate_uid

from tests.dicom_factory import make_series


def uid_of(item, tag):
    return item[tag]["Value"][0]


@pytest.fixture
def three_studies(hook, tmp_path):
    """Three studies with distinct patients and dates; returns their study UIDs by patient."""
    studies = {}
    for name, date, count in [
        ("DOE^JOHN", "20240110", 3),
        ("DOE^JANE", "20240120", 2),
        ("ROE^RICHARD", "20240301", 4),
    ]:
        study = generate_uid()
        make_series(
            tmp_path / name,
            count,
            study_uid=study,
            patient_name=name,
            study_date=date,
            patient_id=name[:3] + date,
        )
        studies[name] = study
    assert hook.store_instances([tmp_path]).ok
    return studies


def test_wildcards_match_as_qido_says(hook, three_studies):
    does = hook.search_for_studies({"PatientName": "DOE*"})
    assert {uid_of(s, "0020000D") for s in does} == {three_studies["DOE^JOHN"], three_studies["DOE^JANE"]}
    one = hook.search_for_studies({"PatientName": "DOE?JA*"})  # '?' stands for '^' on servers that need it
    assert [uid_of(s, "0020000D") for s in one] == [three_studies["DOE^JANE"]]
    assert hook.search_for_studies({"PatientName": "NOBODY*"}) == []


def test_exact_person_name_with_caret_matches_on_orthanc(hook, three_studies):
    # The Orthanc connection sets caret_as_wildcard: Orthanc does not decode %5E.
    [study] = hook.search_for_studies({"PatientName": "DOE^JOHN"})
    assert uid_of(study, "0020000D") == three_studies["DOE^JOHN"]


def test_date_range_and_tag_filters(hook, three_studies):
    january = hook.search_for_studies({"StudyDate": "20240101-20240131"})
    assert {uid_of(s, "0020000D") for s in january} == {three_studies["DOE^JOHN"], three_studies["DOE^JANE"]}
    by_tag = hook.search_for_studies({"00100010": "ROE*"})
    assert [uid_of(s, "0020000D") for s in by_tag] == [three_studies["ROE^RICHARD"]]


def test_series_and_instances_within_a_study(hook, three_studies):
    study = three_studies["ROE^RICHARD"]
    [series] = hook.search_for_series(study)
    instances = hook.search_for_instances(study, uid_of(series, "0020000E"))
    assert len(instances) == 4
    assert len(hook.search_for_instances(study)) == 4
    assert len(hook.search_for_instances(series_instance_uid=uid_of(series, "0020000E"))) == 4


def test_includefield_by_keyword_and_tag(hook, three_studies):
    study = three_studies["DOE^JANE"]
    plain = hook.search_for_instances(study)
    assert "00080008" not in plain[0] and "00281053" not in plain[0]  # not returned by default
    asked = hook.search_for_instances(study, includefield=["ImageType", "00281053"])
    assert asked[0]["00080008"]["Value"] == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert "00281053" in asked[0]


def test_paging_returns_every_match_once(hook, clean_orthanc, tmp_path):
    make_series(tmp_path, 25, rows=8, columns=8)
    assert hook.store_instances([tmp_path]).ok
    everything = list(hook.iter_search("instances", page_size=7))
    uids = [uid_of(i, "00080018") for i in everything]
    assert len(uids) == 25 and len(set(uids)) == 25
    assert uids == [uid_of(i, "00080018") for i in hook.search_for_instances()]
    assert len(hook.search_for_instances(limit=10)) == 10
    assert len(list(hook.iter_search("instances", limit=10, page_size=4))) == 10
    assert len(hook.search_for_instances(offset=20)) == 5


def test_unknown_keyword_is_refused_before_any_request(hook):
    with pytest.raises(ValueError, match="unknown DICOM keyword 'PatientNmae'"):
        hook.search_for_studies({"PatientNmae": "DOE*"})
