"""A Google DICOM store's names, derived from the connection's service root
(``{api_root}/{version}/projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb``): its REST resource, its
dataset, and its page in the Cloud console. Anything else is refused with a clear error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_dicomweb.core.errors import DicomWebConfigError

_STORE_PATH = re.compile(
    r"\A(?P<prefix>.*?)/(?P<name>projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/datasets/"
    r"(?P<dataset>[^/]+)/dicomStores/(?P<store>[^/]+))/dicomWeb/?\Z"
)
#: Google's Cloud console: the store's page and the operations' logs are under it; a ``logsUrl`` elsewhere
#: (a hostile answer) is not passed on.
CONSOLE = "https://console.cloud.google.com/"
#: A store id (Google: 1 to 256 letters, digits, ``_-.``).
_STORE_ID = re.compile(r"\A[A-Za-z0-9_.-]{1,256}\Z")


@dataclass(frozen=True)
class GoogleStore:
    """One Google DICOM store: ``url`` is its REST resource, ``name`` its resource name."""

    url: str
    name: str
    project: str
    location: str
    dataset: str
    store: str

    @classmethod
    def from_service_root(cls, base_url: str, what: str = "this") -> GoogleStore:
        parts = urlsplit(base_url)
        found = _STORE_PATH.match(parts.path)
        if not found:
            raise DicomWebConfigError(
                f"{what} needs a Google DICOM store: the connection's service root must end in "
                ".../projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb"
            )
        path = f"{found['prefix']}/{found['name']}"
        return cls(
            url=urlunsplit((parts.scheme, parts.netloc, path, "", "")),
            name=found["name"],
            project=found["project"],
            location=found["location"],
            dataset=found["dataset"],
            store=found["store"],
        )

    @property
    def dataset_name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/datasets/{self.dataset}"

    def sibling(self, store: str) -> str:
        """The resource name of a store: a store id of this dataset, or a full resource name as it is."""
        if store.startswith("projects/"):
            if not re.fullmatch(r"projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+", store):
                raise DicomWebConfigError(f"not a DICOM store's resource name: {store[:200]!r}")
            return store
        if not _STORE_ID.match(store):
            raise DicomWebConfigError(f"not a DICOM store id: {store[:100]!r}")
        return f"{self.dataset_name}/dicomStores/{store}"

    def service_root_of(self, store: str) -> str:
        """The DICOMweb service root of another store (a store id of this dataset, or a resource name), on
        the same API root: for reaching a store this one was de-identified into."""
        prefix = self.url[: -len(self.name)]
        return f"{prefix}{self.sibling(store)}/dicomWeb"

    @property
    def console_url(self) -> str:
        """The store's page in the Cloud console."""
        return (
            f"{CONSOLE}healthcare/browser/locations/"
            f"{quote(self.location)}/datasets/{quote(self.dataset)}/dicomStores/{quote(self.store)}/details"
            f"?project={quote(self.project)}"
        )
