"""The DICOM JSON model (PS3.18 F.2): attributes keyed by their tag as eight hex digits, each an object with
``vr`` and ``Value`` (a list). The tags the provider reads by name, and the one way to read a first value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STUDY_INSTANCE_UID = "0020000D"
SERIES_INSTANCE_UID = "0020000E"
SOP_INSTANCE_UID = "00080018"
SOP_CLASS_UID = "00080016"
NUMBER_OF_SERIES_RELATED_INSTANCES = "00201209"


def first_value(dataset: Mapping[str, Any], tag: str) -> Any:
    """The first value of attribute ``tag`` of a DICOM JSON dataset; None when it is absent, empty, or the
    dataset is not what the model says (a server's answer is not trusted to be well formed)."""
    element = dataset.get(tag) if isinstance(dataset, Mapping) else None
    values = element.get("Value") if isinstance(element, Mapping) else None
    return values[0] if isinstance(values, list) and values else None
