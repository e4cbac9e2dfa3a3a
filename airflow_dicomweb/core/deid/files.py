"""De-identifying files: inputs (files, folders, patterns, object-store URLs) into an output folder named by
the new UIDs only (``{study}/{series}/{instance}.dcm``: an input's own name may hold identity), with one
outcome per input. A bad input is reported ``failed`` by name; the others go on."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from airflow_dicomweb.core.defaults import DEID_MAX_INSTANCE_MIB
from airflow_dicomweb.core.deid.deidentifier import (
    DeidentificationError,
    DeidentifiedInstance,
    Deidentifier,
    Quarantined,
)
from airflow_dicomweb.core.errors import DicomWebStorageError, InvalidUIDError
from airflow_dicomweb.core.storage.paths import (
    Destination,
    StoragePath,
    as_path,
    is_remote,
    local_name,
    read_bytes,
    storage_errors,
    too_large,
    write_atomically,
)
from airflow_dicomweb.core.stow.inputs import Input, expand_inputs
from airflow_dicomweb.core.uids import resource_segments

DEIDENTIFIED = "deidentified"
QUARANTINED = "quarantined"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeidentifyOutcome:
    """What became of one input: ``deidentified`` (``output`` names the file written), ``quarantined`` or
    ``failed`` (``reason`` says why, naming attributes, never their values)."""

    source: str
    outcome: str
    output: str | None = None
    reason: str = ""
    study_instance_uid: str | None = None

    def to_json(self) -> str:
        fields = asdict(self)
        fields.pop("study_instance_uid")
        return json.dumps(fields)


def output_name(instance: DeidentifiedInstance) -> str:
    """Where a de-identified instance goes below the output folder; its UIDs are validated first (kept
    as they were under ``uids``, they come from the input and may be anything)."""
    segments = resource_segments(
        instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid
    )
    return "/".join(segments[1::2]) + ".dcm"


def deidentify_file(
    deidentifier: Deidentifier,
    location: StoragePath,
    output: StoragePath,
    *,
    max_bytes: int = DEID_MAX_INSTANCE_MIB * 1024 * 1024,
) -> DeidentifyOutcome:
    """One input de-identified into ``output`` (a folder), or its outcome saying why not."""
    source = str(location)
    try:
        result = _deidentify_input(deidentifier, location, max_bytes)
    except (DeidentificationError, DicomWebStorageError) as exc:
        return DeidentifyOutcome(source, FAILED, reason=str(exc))
    if isinstance(result, Quarantined):
        return DeidentifyOutcome(source, QUARANTINED, reason=result.reason)
    try:
        target = output / output_name(result)
    except InvalidUIDError as exc:
        return DeidentifyOutcome(source, FAILED, reason=f"{source}: {exc}")
    try:
        write_atomically(target, *result.chunks)
    except DicomWebStorageError as exc:
        return DeidentifyOutcome(source, FAILED, reason=str(exc))
    return DeidentifyOutcome(
        source, DEIDENTIFIED, output=str(target), study_instance_uid=result.study_instance_uid
    )


def _deidentify_input(
    deidentifier: Deidentifier, location: StoragePath, max_bytes: int
) -> DeidentifiedInstance | Quarantined:
    """A regular file of this machine is read by pydicom from the file (its pixel data copied once, not
    twice); anything else (an object, a pipe) is read whole first, never past ``max_bytes``."""
    source = str(location)
    if not is_remote(location):
        with storage_errors(location, "read"):
            handle = open(local_name(location), "rb")  # noqa: SIM115 (closed below, whatever happens)
        with handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > max_bytes:
                    raise DicomWebStorageError(too_large(location, max_bytes))
                return deidentifier.deidentify_stream(handle, source=source)
    return deidentifier.deidentify_bytes(read_bytes(location, max_bytes), source=source)


def deidentify_files(
    deidentifier: Deidentifier,
    inputs: Iterable[Input] | Input,
    output: Destination,
    *,
    max_instance_mib: int = DEID_MAX_INSTANCE_MIB,
) -> list[DeidentifyOutcome]:
    """Every input de-identified into ``output``, in the inputs' order; one outcome each (an input naming no
    file is one ``failed`` outcome)."""
    files, problems = expand_inputs(inputs)
    target = as_path(output)
    outcomes = [DeidentifyOutcome(p.given, FAILED, reason=p.reason) for p in problems]
    for found in files:
        outcomes.append(
            deidentify_file(deidentifier, found.location, target, max_bytes=max_instance_mib * 1024 * 1024)
        )
    return outcomes


def write_report(outcomes: Iterable[DeidentifyOutcome], target: Destination) -> None:
    """The outcomes as JSON lines (``source``, ``outcome``, ``output``, ``reason``) at ``target``."""
    text = "".join(outcome.to_json() + "\n" for outcome in outcomes)
    write_atomically(as_path(target), text.encode("utf-8"))


def summary(outcomes: list[DeidentifyOutcome], *, limit: int = 100) -> dict:
    """A bounded summary (for XCom): counts, the studies written, and the first ``limit`` inputs not
    released with their reasons."""
    counts = {DEIDENTIFIED: 0, QUARANTINED: 0, FAILED: 0}
    for outcome in outcomes:
        counts[outcome.outcome] += 1
    held = [
        {"source": o.source, "outcome": o.outcome, "reason": o.reason}
        for o in outcomes
        if o.outcome != DEIDENTIFIED
    ]
    studies = sorted({o.study_instance_uid for o in outcomes if o.study_instance_uid})
    return {
        **counts,
        "study_instance_uids": studies[:limit],
        "not_released": held[:limit],
        "more_not_released": max(0, len(held) - limit),
    }
