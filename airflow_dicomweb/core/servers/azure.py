"""``server: azure``: Azure Health Data Services' DICOM service (API v2, ``auth_type: azure``).

Recognized by its host, ``<workspace>-<service>.dicom.azurehealthcareapis.com``. A search takes a ``limit``
of at most 200 (more is refused) and pages with ``offset``; an empty search answers 204. One STOW-RS
request may hold 4 GB. A duplicate is refused with FailureReason 45070. A delete finishes at once (no
operation); what does start one (export, bulk update) is polled at ``{service root}/operations/{id}``.
Arrivals are read from the change feed (``/changefeed``), exactly, rather than searched for.
"""

from urllib.parse import urlsplit

from airflow_dicomweb.core.servers.profile import ServerProfile


def _is_azure(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").endswith(".dicom.azurehealthcareapis.com")


PROFILE = ServerProfile(
    name="azure",
    page_size_max={"studies": 200, "series": 200, "instances": 200},
    page_cap=200,
    empty_search_204=True,
    stow_max_bytes=4 * 1024**3,
    duplicate_failure_reasons=frozenset({45070}),
    operations="azure",
    arrival_source="change-feed",
    recognizes=_is_azure,
)
