"""Viewer links: the connection's template filled with validated UIDs, the Google default, hostile
templates and UIDs refused, and the extra link reading only an http(s) link back."""

from __future__ import annotations

import pytest

from airflow_dicomweb.core.errors import DicomWebConfigError, InvalidUIDError
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.viewer_links import check_viewer_template, viewer_link
from airflow_dicomweb.operators.viewer_link import StudyViewerLink, save_viewer_link

GOOGLE = "https://healthcare.googleapis.com/v1/projects/p/locations/eu/datasets/d/dicomStores/s/dicomWeb"
OHIF = "https://viewer.example/viewer?StudyInstanceUIDs={study}"


def test_a_template_is_filled_with_the_study_and_series():
    assert viewer_link(OHIF, "1.2.3") == "https://viewer.example/viewer?StudyInstanceUIDs=1.2.3"
    series = "https://pacs.example/ui/app/#/study/{study}/series/{series}"
    assert viewer_link(series, "1.2", "1.2.9") == "https://pacs.example/ui/app/#/study/1.2/series/1.2.9"


def test_the_connection_template_wins_and_google_defaults_to_its_console_page():
    google = DicomWebSettings(base_url=GOOGLE)
    assert google.viewer_link("1.2.3") == (
        "https://console.cloud.google.com/healthcare/browser/locations/eu/datasets/d/dicomStores/s/details?project=p"
    )
    assert DicomWebSettings(base_url=GOOGLE, viewer_url=OHIF).viewer_link("1.2.3").endswith("=1.2.3")
    assert DicomWebSettings(base_url="http://127.0.0.1:8042/dicom-web").viewer_link("1.2.3") is None
    settings = DicomWebSettings.from_connection_fields(
        host="http://127.0.0.1:8042/dicom-web", extra={"viewer_url": OHIF}
    )
    assert settings.viewer_link("1.2.840.1") == "https://viewer.example/viewer?StudyInstanceUIDs=1.2.840.1"


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert({study})",
        "file:///etc/{study}",
        "https://v/{study}/{patient}",
        "https://v/{study.__class__}",
        "https://v/{study!r}",
        "https://v/{study",
    ],
)
def test_hostile_or_broken_templates_are_refused_when_the_settings_load(template):
    with pytest.raises(DicomWebConfigError, match="viewer_url"):
        check_viewer_template(template)
    with pytest.raises(DicomWebConfigError, match="viewer_url"):
        DicomWebSettings(base_url="http://127.0.0.1:8042/dicom-web", viewer_url=template)


def test_a_hostile_uid_never_fills_a_link():
    with pytest.raises(InvalidUIDError):
        viewer_link(OHIF, "1.2.3&next=https://evil.example")


class _Operator:
    """Stands for the operator a task runs: the link is kept on it."""


def test_the_first_study_link_is_kept_for_the_extra_link_and_none_means_no_lookup():
    op = _Operator()
    settings = DicomWebSettings(base_url="http://127.0.0.1:8042/dicom-web", viewer_url=OHIF)
    assert save_viewer_link(op, settings, ["1.2.9", "1.2.3"]) == OHIF.format(study="1.2.3")
    assert StudyViewerLink().get_link(op, ti_key=None) == OHIF.format(study="1.2.3")
    quiet = _Operator()
    assert save_viewer_link(quiet, DicomWebSettings(base_url="http://h/dicom-web"), ["1.2"]) is None
    assert StudyViewerLink().get_link(quiet, ti_key=None) == ""
    quiet.dicomweb_viewer_link = "javascript:alert(1)"  # type: ignore[attr-defined]
    assert StudyViewerLink().get_link(quiet, ti_key=None) == ""
