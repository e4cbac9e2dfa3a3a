"""WADO-RS: retrieve instances, metadata, rendered images, frames and bulk data (PS3.18 section 10.4).

Each transaction lives in its own module; :class:`WadoMixin` gathers them for the client.
"""

from __future__ import annotations

from airflow_dicomweb.core.retrieve_bulkdata import (
    RetrieveBulkdataMixin,
    find_bulkdata_uri,
    normalize_tag_path,
)
from airflow_dicomweb.core.retrieve_instances import RetrieveInstancesMixin
from airflow_dicomweb.core.retrieve_metadata import RetrieveMetadataMixin
from airflow_dicomweb.core.retrieve_pixels import RetrievePixelsMixin


class WadoMixin(RetrieveInstancesMixin, RetrieveMetadataMixin, RetrievePixelsMixin, RetrieveBulkdataMixin):
    """The retrieve transactions. Needs ``self.transport`` and ``iter_search``."""


__all__ = ["WadoMixin", "find_bulkdata_uri", "normalize_tag_path"]
