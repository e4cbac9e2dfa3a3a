"""Which instances may show identity in their pixels, and so are quarantined, never released: pixel data is
not cleaned here (the Clean Pixel Data Option, 113101, is not offered)."""

from __future__ import annotations

from pydicom.dataset import Dataset

#: Modalities whose images often carry burned-in text (ultrasound, screen captures, photographs, endoscopy,
#: other): held unless BurnedInAnnotation says NO.
UNLESS_DECLARED_NO = frozenset({"US", "SC", "XC", "ES", "OT"})

_NOT_CLEANED = "pixel data is not cleaned here (Clean Pixel Data Option, 113101): review and clean it first"


def burned_in_reason(ds: Dataset) -> str:
    """Why ``ds`` may carry identity in its pixels, or '' when it may be released."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return ""
    declared = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if declared == "YES":
        return f"BurnedInAnnotation is YES; {_NOT_CLEANED}"
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if not declared and modality in UNLESS_DECLARED_NO:
        return f"modality {modality} without BurnedInAnnotation may show text in its pixels; {_NOT_CLEANED}"
    return ""
