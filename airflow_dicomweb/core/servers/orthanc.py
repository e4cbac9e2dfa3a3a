"""``server: orthanc``: Orthanc with its DICOMweb plugin.

Its plugin has no DICOMweb DELETE (405), so deletes go through Orthanc's own REST API; its Debian build does
not percent-decode query strings, so ``^`` is sent as ``?``. Empty searches answer ``[]``. Both can still be
set otherwise on the connection (``delete_api``, ``caret_as_wildcard``). A QIDO-RS filter of comma-separated
UIDs matches any of them (checked on Orthanc 1.10 with its DICOMweb plugin 1.7: ``SOPInstanceUID=a,b,c`` at
``/instances``), so the store's pre-check names many instances per search. Study arrivals are read from its
REST ``/changes`` feed, exactly and with no StudyDate window.

Its REST root (``orthanc_root``) is by default the service root without its last path segment
(``http://host:8042/dicom-web`` gives ``http://host:8042``): the same origin, so the URL policy lets the
credentials go there.
"""

from urllib.parse import urlsplit, urlunsplit

from airflow_dicomweb.core.servers.profile import ServerProfile


def rest_root(service_root: str, orthanc_root: str | None = None) -> str:
    """Orthanc's REST root: ``orthanc_root`` if the connection sets it, else the service root without its
    last path segment."""
    if orthanc_root:
        return orthanc_root.rstrip("/")
    parts = urlsplit(service_root)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/").rsplit("/", 1)[0], "", ""))


PROFILE = ServerProfile(
    name="orthanc",
    delete_api="orthanc",
    operations="none",
    caret_as_wildcard=True,
    uid_list_matching=True,
    arrival_source="orthanc-changes",
)
