"""Where files are read from and written to: :class:`Location` (a local path or an fsspec object, written
atomically), and the one writer of retrieved instances."""

from airflow_dicomweb.core.storage.location import AtomicWriter, Location

__all__ = ["AtomicWriter", "Location"]
