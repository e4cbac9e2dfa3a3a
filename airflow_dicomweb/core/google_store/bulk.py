"""A Google DICOM store's own long-running operations, each started with one request that answers with the
operation (polled like any other, :mod:`...operations.polling`):

- ``import_dicom``: ``POST {store}:import`` with ``gcsSource.uri`` (``*`` and ``**`` globs allowed), from
  Cloud Storage, which at scale Google advises over STOW-RS;
- ``export_dicom``: ``POST {store}:export`` to ``gcsDestination.uriPrefix`` (``gs://``) or to
  ``bigqueryDestination.tableUri`` (``bq://project.dataset.table``) with a ``writeDisposition``;
- ``deidentify_store``: ``POST {store}:deidentify`` into a new store of the same location, with Google's
  ``DeidentifyConfig``;
- ``set_storage_class``: ``POST {store, study or series}:setBlobStorageSettings``.

Each may be narrowed by ``filter_uri``: a ``gs://`` file listing the resources (``/studies/...``) it covers
(``filterConfig.resourcePathsGcsUri``). Every value is checked before anything is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebResponseError
from airflow_dicomweb.core.google_store.resource import GoogleStore
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.state import operation_name
from airflow_dicomweb.core.servers.google import STORAGE_CLASSES
from airflow_dicomweb.core.uids import resource_segments

WRITE_DISPOSITIONS = ("WRITE_EMPTY", "WRITE_TRUNCATE", "WRITE_APPEND")
_GCS = re.compile(r"\Ags://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/[^\s\x00-\x1f\x7f]*)?\Z")
_BIGQUERY = re.compile(
    r"\Abq://[a-z][a-z0-9:.-]{4,61}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_$-]{1,1024}\Z"
)


def gcs_uri(value: Any, what: str) -> str:
    """A ``gs://bucket/object`` URI (or an object whose ``str`` is one, as ``ObjectStoragePath``), checked."""
    text = str(value)
    if not _GCS.match(text):
        raise DicomWebConfigError(f"{what} must be a gs://bucket/path URI, not {text[:200]!r}")
    return text


def checked_storage_class(value: str) -> str:
    text = str(value).upper()
    if text not in STORAGE_CLASSES:
        raise DicomWebConfigError(f"storage class {value!r} is not one of {', '.join(STORAGE_CLASSES)}")
    return text


class StoreBulkOperations:
    """Starts a Google DICOM store's import, export, de-identify and storage-class operations."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _store(self, what: str) -> GoogleStore:
        return GoogleStore.from_service_root(self.transport.base_url, what)

    def _start(self, url: str, body: dict[str, Any]) -> str:
        reply = self.transport.request(
            "POST",
            url,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            data=json.dumps(body).encode(),
        )
        try:
            operation = reply.json()
        except ValueError:
            operation = None
        try:
            return operation_name(operation)
        except DicomWebResponseError:
            raise DicomWebResponseError(
                f"POST {self.transport.redact(url)}: the answer is not a long-running operation: "
                f"{reply.content[:200]!r}"
            ) from None

    @staticmethod
    def _filter(filter_uri: Any) -> dict[str, Any]:
        if filter_uri is None or filter_uri == "":
            return {}
        return {"filterConfig": {"resourcePathsGcsUri": gcs_uri(filter_uri, "filter_uri")}}

    def import_dicom(self, gcs_source: Any, blob_storage_class: str | None = None) -> str:
        """Import the Part 10 files matching ``gcs_source`` (``gs://bucket/dir/**.dcm``); the operation's name."""
        store = self._store("import_dicom")
        body: dict[str, Any] = {"gcsSource": {"uri": gcs_uri(gcs_source, "the import source")}}
        if blob_storage_class:
            body["blobStorageSettings"] = {"blobStorageClass": checked_storage_class(blob_storage_class)}
        return self._start(f"{store.url}:import", body)

    def export_dicom(
        self,
        destination: Any,
        filter_uri: Any = None,
        write_disposition: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Export to ``gs://bucket/prefix/`` (Part 10 files, or ``mime_type``) or to ``bq://project.dataset.table``
        (the metadata, with ``write_disposition``); the operation's name."""
        store = self._store("export_dicom")
        target = str(destination)
        body: dict[str, Any]
        if target.startswith("bq://"):
            if not _BIGQUERY.match(target):
                raise DicomWebConfigError(
                    f"a BigQuery destination is bq://project.dataset.table, not {target[:200]!r}"
                )
            if mime_type:
                raise DicomWebConfigError("mime_type applies to a gs:// export only")
            table: dict[str, Any] = {"tableUri": target}
            if write_disposition:
                if write_disposition not in WRITE_DISPOSITIONS:
                    raise DicomWebConfigError(
                        f"write_disposition {write_disposition!r} is not one of {', '.join(WRITE_DISPOSITIONS)}"
                    )
                table["writeDisposition"] = write_disposition
            body = {"bigqueryDestination": table}
        else:
            if write_disposition:
                raise DicomWebConfigError("write_disposition applies to a bq:// export only")
            prefix: dict[str, Any] = {"uriPrefix": gcs_uri(target, "the export destination")}
            if mime_type:
                prefix["mimeType"] = str(mime_type)
            body = {"gcsDestination": prefix}
        return self._start(f"{store.url}:export", {**body, **self._filter(filter_uri)})

    def deidentify_store(self, destination_store: str, config: dict[str, Any], filter_uri: Any = None) -> str:
        """De-identify into ``destination_store`` (a store id of this dataset, or a resource name), a store
        that must not exist yet; ``config`` is Google's ``DeidentifyConfig``. The operation's name."""
        store = self._store("deidentify_store")
        if not isinstance(config, dict):
            raise DicomWebConfigError("config must be Google's DeidentifyConfig, as a JSON object")
        destination = store.sibling(str(destination_store))
        if destination == store.name:
            raise DicomWebConfigError("a store cannot be de-identified into itself")
        body = {"destinationStore": destination, "config": config, **self._filter(filter_uri)}
        return self._start(f"{store.url}:deidentify", body)

    def set_storage_class(
        self,
        storage_class: str,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filter_uri: Any = None,
    ) -> str:
        """Move the store, a study or a series (or the resources listed by ``filter_uri``, store-wide) to a
        storage class; the operation's name."""
        store = self._store("set_storage_class")
        if series_instance_uid and not study_instance_uid:
            raise DicomWebConfigError("series_instance_uid needs study_instance_uid")
        if study_instance_uid:
            if filter_uri:
                raise DicomWebConfigError("filter_uri applies to the whole store, not to a study or series")
            url = self.transport.url(*resource_segments(study_instance_uid, series_instance_uid))
        else:
            url = store.url
        body = {
            "blobStorageSettings": {"blobStorageClass": checked_storage_class(storage_class)},
            **self._filter(filter_uri),
        }
        return self._start(f"{url}:setBlobStorageSettings", body)
