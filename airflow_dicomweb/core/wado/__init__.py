"""WADO-RS, the retrieve transactions (PS3.18 section 10.4): instances into a destination, metadata,
rendered images and frames, bulk data, and the decoding of their responses."""

from airflow_dicomweb.core.wado.bulkdata import find_bulkdata_uri, normalize_tag_path

__all__ = ["find_bulkdata_uri", "normalize_tag_path"]
