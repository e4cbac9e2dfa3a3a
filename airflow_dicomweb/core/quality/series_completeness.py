"""Is each series whole? Gaps and repeats in InstanceNumber, slices whose spacing along the normal of their
orientation is not even (a slice missing in the middle), and, per instance, NumberOfFrames against the pixel
data actually present."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from pydicom.dataset import Dataset
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.filebase import DicomBytesIO

from airflow_dicomweb.core.quality.finding import SERIES_COMPLETENESS, Finding
from airflow_dicomweb.core.quality.instance_facts import InstanceFacts

#: Two spacings differ when they differ by more than this share of the median spacing, or 0.01 mm.
SPACING_TOLERANCE = 0.01
MIN_SPACING_MM = 0.01
#: Missing InstanceNumbers named in a finding, at most.
MAX_NAMED = 10


def frames_finding(ds: Dataset, facts: InstanceFacts) -> Finding | None:
    """NumberOfFrames against the pixel data: its length where it is native, its fragments and offset table
    where it is encapsulated."""
    if "PixelData" not in ds:
        return None
    value = ds["PixelData"].value
    if value is None:
        return _finding(facts, "PixelData is empty")
    frames = facts.frames
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is not None and syntax.is_encapsulated:
        try:
            buffer = DicomBytesIO(value)
            offsets = parse_basic_offsets(buffer)  # reads past the offset table
            fragments, _ = parse_fragments(buffer)
        except (ValueError, TypeError, EOFError) as exc:
            return _finding(facts, f"encapsulated pixel data cannot be parsed ({exc})")
        if fragments < frames:
            return _finding(
                facts, f"NumberOfFrames is {frames} but the pixel data holds {fragments} fragments"
            )
        if offsets and len(offsets) != frames:
            return _finding(
                facts, f"NumberOfFrames is {frames} but the offset table lists {len(offsets)} frames"
            )
        return None
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        return _finding(facts, "Rows, Columns or BitsAllocated missing: the pixel data cannot be sized")
    pixels = rows * columns * samples * frames
    expected = (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)
    if len(value) < expected:
        return _finding(
            facts,
            f"pixel data holds {len(value):,} bytes; NumberOfFrames {frames} of {rows}x{columns} needs "
            f"{expected:,} (frames missing or cut)",
        )
    if len(value) > expected + 1:
        return _finding(
            facts,
            f"pixel data holds {len(value):,} bytes, more than the {expected:,} NumberOfFrames {frames} needs",
        )
    return None


def series_findings(instances: Iterable[InstanceFacts]) -> list[Finding]:
    """Gaps and repeats in InstanceNumber, and uneven slice spacing, per series."""
    by_series: dict[tuple[str, str], list[InstanceFacts]] = defaultdict(list)
    for facts in instances:
        by_series[(facts.study_instance_uid, facts.series_instance_uid)].append(facts)
    findings: list[Finding] = []
    for (study, series), members in by_series.items():
        findings += _numbering(study, series, members)
        findings += _spacing(study, series, members)
    return findings


def _numbering(study: str, series: str, members: list[InstanceFacts]) -> list[Finding]:
    numbers = [m.instance_number for m in members if m.instance_number is not None]
    if len(numbers) < 2:
        return []
    findings = []
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        findings.append(
            Finding(SERIES_COMPLETENESS, study, f"InstanceNumber repeated: {_names(repeated)}", series)
        )
    present = set(numbers)
    missing = [n for n in range(min(present), max(present) + 1) if n not in present]
    if missing:
        findings.append(
            Finding(
                SERIES_COMPLETENESS,
                study,
                f"InstanceNumber gaps: {_names(missing)} missing between {min(present)} and {max(present)} "
                f"({len(present)} instances present)",
                series,
            )
        )
    return findings


def _spacing(study: str, series: str, members: list[InstanceFacts]) -> list[Finding]:
    """Slices of one orientation, sorted along its normal: every step the same, within the tolerance."""
    slices = [m for m in members if m.position is not None and m.orientation is not None and m.frames == 1]
    if len(slices) < 3 or len({m.orientation for m in slices}) != 1:
        return []
    o = slices[0].orientation
    assert o is not None
    normal = (o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3])
    distances = sorted(
        sum(p * n for p, n in zip(m.position, normal, strict=True)) for m in slices if m.position
    )
    steps = [b - a for a, b in pairwise(distances)]
    median = sorted(steps)[len(steps) // 2]
    if min(steps) < MIN_SPACING_MM:
        return [Finding(SERIES_COMPLETENESS, study, "two slices at the same position", series)]
    tolerance = max(MIN_SPACING_MM, SPACING_TOLERANCE * median)
    uneven = [(i, s) for i, s in enumerate(steps) if abs(s - median) > tolerance]
    if not uneven:
        return []
    first, step = uneven[0]
    return [
        Finding(
            SERIES_COMPLETENESS,
            study,
            f"inconsistent slice spacing: {step:.3g} mm after slice {first + 1} of {len(slices)} where the others "
            f"are {median:.3g} mm ({len(uneven)} uneven steps: slices missing?)",
            series,
        )
    ]


def _finding(facts: InstanceFacts, reason: str) -> Finding:
    return Finding(
        SERIES_COMPLETENESS,
        facts.study_instance_uid,
        reason,
        facts.series_instance_uid,
        facts.sop_instance_uid,
    )


def _names(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:MAX_NAMED])
    return shown + (f" and {len(numbers) - MAX_NAMED} more" if len(numbers) > MAX_NAMED else "")
