"""``server: dcm4chee``: dcm4chee-arc-light.

Recognized by its service root, ``.../dcm4chee-arc/aets/{AET}/rs``. It implements PS3.18 as written, but
deletes only what was rejected first: with ``delete_api: dcm4chee`` (which this profile does not turn on by
itself, deleting being for good) a delete rejects, then deletes (:mod:`...operations.dcm4chee_reject`).
Deletes finish at once (no operation).
"""

from urllib.parse import urlsplit

from airflow_dicomweb.core.servers.profile import ServerProfile


def _is_dcm4chee(base_url: str) -> bool:
    path = urlsplit(base_url).path.rstrip("/")
    return "/dcm4chee-arc/aets/" in path and path.endswith("/rs")


PROFILE = ServerProfile(name="dcm4chee", operations="none", recognizes=_is_dcm4chee)
