"""``server: healthimaging``: AWS HealthImaging's DICOMweb (``auth_type: aws``).

Recognized by its host, ``dicom-medical-imaging.<region>.amazonaws.com``. It has no study- or series-level
instance retrieve (retrieves fan out through series metadata), answers at most 10,000 records to a search,
and takes at most 1 GB in one STOW-RS request. Deletes are not DICOMweb there.
"""

import re
from urllib.parse import urlsplit

from airflow_dicomweb.core.servers.profile import ServerProfile

_HOST = re.compile(r"^dicom-medical-imaging\.[a-z0-9-]+\.amazonaws\.com$")


def _is_healthimaging(base_url: str) -> bool:
    return bool(_HOST.match(urlsplit(base_url).hostname or ""))


PROFILE = ServerProfile(
    name="healthimaging",
    study_retrieve=False,
    series_retrieve=False,
    page_size_max={"studies": 10_000, "series": 10_000, "instances": 10_000},
    page_cap=10_000,
    stow_max_bytes=1_000_000_000,
    operations="none",
    recognizes=_is_healthimaging,
)
