"""Does the pixel data decode? pydicom decodes it (with numpy, and the pylibjpeg plugins for compressed
transfer syntaxes: the ``quality`` extra); an instance whose pixels it cannot decode is a finding naming the
transfer syntax and the decoder's complaint."""

from __future__ import annotations

import importlib.util

from pydicom.dataset import Dataset

from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.quality.finding import PIXEL_DATA_DECODES, Finding
from airflow_dicomweb.core.quality.instance_facts import InstanceFacts


def require_decoders() -> None:
    """Raise a :class:`DicomWebConfigError` saying what to install when numpy is missing."""
    if importlib.util.find_spec("numpy") is None:
        raise DicomWebConfigError(
            "the pixel-data-decodes check needs numpy and the pylibjpeg plugins: "
            "pip install 'airflow-dicomweb[quality]' (or leave the check out)"
        )


def decoding_finding(ds: Dataset, facts: InstanceFacts) -> Finding | None:
    if "PixelData" not in ds:
        return None
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "?")
    try:
        array = ds.pixel_array
    except Exception as exc:  # any decoder failure is the finding
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return Finding(
            PIXEL_DATA_DECODES,
            facts.study_instance_uid,
            f"pixel data ({syntax}) does not decode: {message}",
            facts.series_instance_uid,
            facts.sop_instance_uid,
        )
    del array
    return None
