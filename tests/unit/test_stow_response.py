import json

import pytest

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.stow.response import parse_stow_response, reason_meaning


def seq_item(uid, **tags):
    item = {
        "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
        "00081155": {"vr": "UI", "Value": [uid]},
    }
    item.update(tags)
    return item


def test_json_success_partial_failure_and_google_duplicate():
    body = {
        "00081190": {"vr": "UR", "Value": ["http://x/studies/1.2"]},
        "00081199": {
            "vr": "SQ",
            "Value": [seq_item("1.2.3", **{"00081190": {"vr": "UR", "Value": ["http://x/i/1.2.3"]}})],
        },
        "00081198": {
            "vr": "SQ",
            "Value": [
                seq_item(
                    "1.2.4",
                    **{
                        "00081197": {"vr": "US", "Value": [272]},
                        "00091097": {"vr": "LO", "Value": ["Instance already exists"]},
                    },
                ),
                seq_item("1.2.5", **{"00081197": {"vr": "US", "Value": [0xA900]}}),
                seq_item("1.2.6", **{"00081197": {"vr": "US", "Value": [272]}}),
            ],
        },
    }
    parsed = parse_stow_response(json.dumps(body).encode(), "application/dicom+json")
    assert parsed.retrieve_url == "http://x/studies/1.2"
    assert parsed.referenced["1.2.3"].retrieve_url == "http://x/i/1.2.3"
    assert parsed.failed["1.2.4"].already_exists
    assert parsed.failed["1.2.4"].failure_detail == "Instance already exists"
    assert not parsed.failed["1.2.5"].already_exists
    assert not parsed.failed[
        "1.2.6"
    ].already_exists  # 272 alone is a processing failure (Orthanc: wrong study)
    assert reason_meaning(parsed.failed["1.2.5"].failure_reason) == "Error: data set does not match SOP Class"


XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">https://g/studies/1.2</Value></DicomAttribute>
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081150" vr="UI"><Value number="1">1.2.840.10008.5.1.4.1.1.2</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">1.2.9</Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US"><Value number="1">272</Value></DicomAttribute>
      <DicomAttribute tag="00090097" vr="LO"><Value number="1">SOP Instance UID already exists</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">1.2.8</Value></DicomAttribute>
      <DicomAttribute tag="00081196" vr="US"><Value number="1">45056</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
</NativeDicomModel>"""


def test_xml_duplicate_and_warning():
    parsed = parse_stow_response(XML, "application/dicom+xml")
    assert parsed.retrieve_url == "https://g/studies/1.2"
    assert parsed.referenced["1.2.8"].warning_reason == 0xB000
    assert parsed.failed["1.2.9"].already_exists
    # sniffed when the Content-Type is missing
    assert parse_stow_response(XML, None).failed["1.2.9"].failure_reason == 272


def test_empty_body_and_empty_sequences():
    assert parse_stow_response(b"", "application/dicom+json").referenced == {}
    empty = {"00081198": {"vr": "SQ"}, "00081199": {"vr": "SQ"}}
    parsed = parse_stow_response(json.dumps(empty).encode(), "application/dicom+json")
    assert parsed.referenced == {} and parsed.failed == {}


def test_garbage_names_the_body():
    with pytest.raises(DicomWebResponseError, match=r"unreadable STOW-RS response.*<html>"):
        parse_stow_response(b"<html>oops", "text/html")
