"""``server: google``: a DICOM store of the Cloud Healthcare API.

Recognized by its service root, ``.../projects/{p}/locations/{l}/datasets/{d}/dicomStores/{s}/dicomWeb``
(on ``healthcare.googleapis.com`` or a private endpoint). Pages of at most 5,000 studies or series and
50,000 instances; an empty search may answer 204; a study or series delete starts a long-running operation.
"""

from urllib.parse import urlsplit

from airflow_dicomweb.core.servers.profile import ServerProfile


def _is_google_store(base_url: str) -> bool:
    path = urlsplit(base_url).path
    return "/projects/" in path and "/dicomStores/" in path and path.rstrip("/").endswith("/dicomWeb")


#: The storage classes of a Google DICOM store's blobs: a STOW-RS ``Storage-Class`` header, an import's
#: ``blobStorageSettings``, or ``:setBlobStorageSettings``.
STORAGE_CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")


def _console_page(base_url: str) -> str | None:
    """The store's page in the Cloud console: the console has no page per study, so every study links to
    its store."""
    from airflow_dicomweb.core.google_store.resource import GoogleStore

    try:
        return GoogleStore.from_service_root(base_url).console_url.replace("{", "{{").replace("}", "}}")
    except ValueError:
        return None


PROFILE = ServerProfile(
    name="google", empty_search_204=True, recognizes=_is_google_store, viewer_url=_console_page
)
