"""Links to a study in a viewer: the connection's ``viewer_url``, a template with ``{study}`` and optionally
``{series}`` (OHIF: ``https://viewer.example/viewer?StudyInstanceUIDs={study}``; Orthanc Explorer 2, a
PACS's web viewer...), or where it sets none, the server profile's default (a Google DICOM store: its page in
the Cloud console, which has no page per study). The UIDs are validated before they fill the template, and
the template must be an http(s) URL naming no other placeholder."""

from __future__ import annotations

import string
from urllib.parse import quote, urlsplit

from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.uids import validate_uid

#: The placeholders a viewer template may name.
PLACEHOLDERS = frozenset({"study", "series"})


def check_viewer_template(template: str) -> str:
    """``template`` if it is an http(s) URL whose only placeholders are ``{study}`` and ``{series}``."""
    if urlsplit(template).scheme not in ("http", "https"):
        raise DicomWebConfigError(f"viewer_url must be an http(s) URL, got {template[:80]!r}")
    try:
        fields = {name for _, name, spec, conv in string.Formatter().parse(template) if name is not None}
        plain = all(
            not spec and not conv for _, name, spec, conv in string.Formatter().parse(template) if name
        )
    except ValueError as exc:
        raise DicomWebConfigError(f"viewer_url {template[:80]!r} is not a template: {exc}") from None
    unknown = fields - PLACEHOLDERS
    if unknown or not plain:
        raise DicomWebConfigError(
            f"viewer_url may name only {{study}} and {{series}}, plainly; it names {sorted(fields)}"
        )
    return template


def viewer_link(template: str, study_instance_uid: str, series_instance_uid: str | None = None) -> str:
    """The link to a study (or series) in the viewer ``template`` names."""
    check_viewer_template(template)
    study = quote(validate_uid(study_instance_uid, "study_instance_uid"), safe=".")
    series = (
        quote(validate_uid(series_instance_uid, "series_instance_uid"), safe=".")
        if series_instance_uid
        else ""
    )
    return template.format(study=study, series=series)
