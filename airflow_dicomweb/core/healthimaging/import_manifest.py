"""What a HealthImaging import job did, from the output it writes to S3.

Under the job's ``outputS3Uri``, ``job-output-manifest.json`` holds ``jobSummary``: the counts
(``numberOfScannedFiles``, ``numberOfImportedFiles``, ``numberOfFilesWithCustomerError``,
``numberOfFilesWithServerError``, ``numberOfGeneratedImageSets``) and the prefixes of its ``SUCCESS`` and
``FAILURE`` folders. ``FAILURE/failure.ndjson`` has one line per file that was not imported: its
``inputFile`` and an ``exception`` (``exceptionType``, ``message``).

Both are read with bounds (the output bucket is written by the service, but a test double or a wrong URI
could hold anything): the manifest at most 16 MiB, the failure list line by line, naming at most
``MAX_NAMED`` files and counting the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError

MANIFEST = "job-output-manifest.json"
FAILURES = "failure.ndjson"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024
MAX_NAMED = 100


@dataclass
class ImportFailure:
    input_file: str
    exception_type: str
    message: str

    def __str__(self) -> str:
        return f"{self.input_file}: {self.exception_type}: {self.message}"


@dataclass
class ImportOutcome:
    """The job's counts, and the files that failed (the first ``MAX_NAMED`` named)."""

    scanned: int = 0
    imported: int = 0
    failed: int = 0
    image_sets: int = 0
    failures: list[ImportFailure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "imported": self.imported,
            "failed": self.failed,
            "image_sets": self.image_sets,
            "failed_files": [str(f) for f in self.failures],
        }


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key)."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise DicomWebResponseError(f"not an s3://bucket/prefix/ URI: {uri[:200]!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _prefix(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def read_import_outcome(s3_client: Any, output_s3_uri: str) -> ImportOutcome:
    """The counts of the manifest under ``output_s3_uri`` (the job's), and its failed files named."""
    bucket, key = split_s3_uri(_prefix(output_s3_uri) + MANIFEST)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        raw = body.read(MAX_MANIFEST_BYTES + 1)
    finally:
        body.close()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise DicomWebResponseError(f"s3://{bucket}/{key} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        summary = json.loads(raw)["jobSummary"]
        assert isinstance(summary, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise DicomWebResponseError(f"s3://{bucket}/{key} is not an import job's output manifest") from None

    def count(name: str) -> int:
        try:
            return max(0, int(summary.get(name) or 0))
        except (TypeError, ValueError):
            return 0

    outcome = ImportOutcome(
        scanned=count("numberOfScannedFiles"),
        imported=count("numberOfImportedFiles"),
        failed=count("numberOfFilesWithCustomerError") + count("numberOfFilesWithServerError"),
        image_sets=count("numberOfGeneratedImageSets"),
    )
    if outcome.failed:
        folder = summary.get("failureOutputS3Uri")
        if not isinstance(folder, str) or not folder.startswith("s3://"):
            folder = _prefix(output_s3_uri) + "FAILURE/"
        outcome.failures = _named_failures(s3_client, _prefix(folder) + FAILURES)
    return outcome


def _named_failures(s3_client: Any, uri: str) -> list[ImportFailure]:
    bucket, key = split_s3_uri(uri)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as exc:  # the counts stand; only the names are missing
        return [ImportFailure(uri, "unreadable failure list", str(exc)[:200])]
    named: list[ImportFailure] = []
    try:
        for line in bounded_lines(body, MAX_LINE_BYTES):
            if len(named) >= MAX_NAMED:
                break
            try:
                item = json.loads(line)
                exception = item.get("exception") or {}
                named.append(
                    ImportFailure(
                        str(item.get("inputFile", "?"))[:1024],
                        str(exception.get("exceptionType", "?"))[:200],
                        str(exception.get("message", ""))[:500],
                    )
                )
            except (ValueError, AttributeError):
                continue
    finally:
        body.close()
    return named


def bounded_lines(body: Any, max_line: int) -> Any:
    """The non-blank lines of a stream, each at most ``max_line`` bytes: a longer one is skipped whole, so
    memory stays bounded whatever the stream holds."""
    pending = b""
    skipping = False
    while True:
        chunk = body.read(max_line)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if skipping:
                skipping = False  # the end of the line that was too long
                continue
            if line.strip():
                yield line
        if len(pending) > max_line:
            pending, skipping = b"", True
    if pending.strip() and not skipping:
        yield pending
