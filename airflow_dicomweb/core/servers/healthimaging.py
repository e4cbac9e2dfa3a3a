"""``server: healthimaging``: AWS HealthImaging's DICOMweb (``auth_type: aws``).

Recognized by its host, ``dicom-medical-imaging.<region>.amazonaws.com``. It has no study- or series-level
instance retrieve (retrieves fan out through series metadata), answers at most 10,000 records to a search,
takes at most 1 GB in one STOW-RS request, and only the transfer syntaxes of its "Supported transfer syntaxes"
page. Deletes are not DICOMweb there.
"""

import re
from urllib.parse import urlsplit

from airflow_dicomweb.core.servers.profile import ServerProfile

_HOST = re.compile(r"^dicom-medical-imaging\.[a-z0-9-]+\.amazonaws\.com$")


def service_root(region: str, datastore_id: str) -> str:
    """The DICOMweb root of a data store: ``https://dicom-medical-imaging.<region>.amazonaws.com/datastore/<id>``."""
    return f"https://dicom-medical-imaging.{region}.amazonaws.com/datastore/{datastore_id}"


def _is_healthimaging(base_url: str) -> bool:
    return bool(_HOST.match(urlsplit(base_url).hostname or ""))


#: The transfer syntaxes HealthImaging documents as supported ("Supported transfer syntaxes", its developer
#: guide): uncompressed, deflated, JPEG baseline and extended, JPEG lossless, JPEG-LS, JPEG 2000, HTJ2K, RLE.
TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.5",
    }
)

PROFILE = ServerProfile(
    name="healthimaging",
    study_retrieve=False,
    series_retrieve=False,
    page_size_max={"studies": 10_000, "series": 10_000, "instances": 10_000},
    page_cap=10_000,
    stow_max_bytes=1_000_000_000,
    stow_transfer_syntaxes=TRANSFER_SYNTAXES,
    operations="none",
    recognizes=_is_healthimaging,
)
