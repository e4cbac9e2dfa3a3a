"""STOW-RS of JPEG images with DICOM JSON metadata: Google's metadata-and-bulk form, or Part 10 built here.

``method="json"`` sends Google's form, ``method="part10"`` builds each instance on the client, and
``method="auto"`` (the default) sends the JSON form and, when the server refuses it with 415 Unsupported
Media Type (as Orthanc does), builds Part 10 instances for that image and every later one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from pydicom.uid import generate_uid

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dicom.jpeg_instances import (
    JPEG_BASELINE,
    JpegInstanceError,
    build_part10,
    instance_metadata,
    read_jpeg_info,
)
from airflow_dicomweb.core.dicom.json_model import (
    SERIES_INSTANCE_UID,
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.errors import DicomWebHTTPError, DicomWebStorageError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM, DICOM_JSON
from airflow_dicomweb.core.multipart.writer import BodyPart, MultipartBody
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.storage.paths import open_read
from airflow_dicomweb.core.stow.inputs import Input, expand_inputs
from airflow_dicomweb.core.stow.request import (
    StowItem,
    failed_outcome,
    log_failure,
    send_stow,
    stow_headers,
    stow_url,
)
from airflow_dicomweb.core.stow.result import InstanceOutcome, StoreResult
from airflow_dicomweb.core.stow.store import input_problem_outcomes
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)
METHODS = ("auto", "json", "part10")
UNSUPPORTED_MEDIA_TYPE = 415


def _uid(dataset: dict, tag: str) -> str:
    value = first_value(dataset, tag)
    return "" if value is None else str(value)


def per_image_metadata(metadata: dict | list[dict], count: int) -> list[dict]:
    """One DICOM JSON dataset per image: a list as given, or a template filled per image.

    A template keeps its Study and Series UIDs; each image gets a new SOP Instance UID and an
    InstanceNumber unless the template has them (a template with a SOP Instance UID fits one image only).
    """
    if isinstance(metadata, list):
        if len(metadata) != count:
            raise ValueError(f"{len(metadata)} metadata datasets for {count} JPEG images")
        return metadata
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be a DICOM JSON dataset or a list of them")
    if SOP_INSTANCE_UID in metadata and count > 1:
        raise ValueError("the metadata template has a SOPInstanceUID, but there are several images")
    out = []
    for i in range(count):
        dataset = json.loads(json.dumps(metadata))
        dataset.setdefault(SOP_INSTANCE_UID, {"vr": "UI", "Value": [generate_uid()]})
        dataset.setdefault("00200013", {"vr": "IS", "Value": [i + 1]})
        out.append(dataset)
    return out


class StoreJpeg:
    """Store JPEG images with DICOM JSON metadata (STOW-RS) over ``transport``: in Google's JSON + bulk data
    form, or as Part 10 instances made here for servers without it."""

    def __init__(self, transport: Transport, profile: ServerProfile) -> None:
        self.transport = transport
        self.profile = profile

    def store_jpeg_instances(
        self,
        jpeg_files: Iterable[Input] | Input,
        metadata: dict | list[dict],
        *,
        study_instance_uid: str | None = None,
        storage_class: str | None = None,
        method: str = "auto",
        concurrency: int = defaults.STORE_CONCURRENCY,
    ) -> StoreResult:
        """Make a DICOM instance of each JPEG with its metadata and store it; one outcome per JPEG.

        ``metadata`` is a DICOM JSON dataset used as a template for every image, or one dataset per image
        in the order of ``jpeg_files``. Its Study, Series and SOP Instance UIDs are checked before anything
        is sent; Rows, Columns and the other pixel attributes come from the JPEG.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if study_instance_uid is not None:
            validate_uid(study_instance_uid, "study_instance_uid")
        headers = stow_headers(storage_class)
        paths, problems = expand_inputs(jpeg_files)
        datasets = per_image_metadata(metadata, len(paths))
        url = stow_url(self.transport, study_instance_uid)

        def store_one(index: int, how: str) -> InstanceOutcome:
            """Store image ``index`` as ``json`` or ``part10``; with ``auto``, raise on a 415 to the JSON form."""
            path = paths[index].location
            item = StowItem(index, path, 0)
            try:
                with open_read(path) as handle:
                    jpeg = handle.read()
                md = instance_metadata(
                    datasets[index], read_jpeg_info(jpeg), bulkdata_uri=f"jpeg-image-{index}"
                )
            except (JpegInstanceError, OSError, DicomWebStorageError) as exc:
                return failed_outcome(item, None, f"not stored: {getattr(exc, 'strerror', None) or exc}")
            header = InstanceHeader(
                study_instance_uid=_uid(md, STUDY_INSTANCE_UID),
                series_instance_uid=_uid(md, SERIES_INSTANCE_UID),
                sop_instance_uid=_uid(md, SOP_INSTANCE_UID),
                sop_class_uid=_uid(md, SOP_CLASS_UID),
                transfer_syntax_uid=JPEG_BASELINE,
                size=len(jpeg),
            )
            if study_instance_uid and header.study_instance_uid != study_instance_uid:
                return failed_outcome(
                    item,
                    header,
                    f"metadata names study {header.study_instance_uid}, not {study_instance_uid}",
                )
            if how == "part10":
                body = MultipartBody([BodyPart.from_bytes(build_part10(md, jpeg), DICOM)], part_type=DICOM)
            else:
                body = MultipartBody(
                    [
                        BodyPart.from_bytes(json.dumps([md]).encode(), DICOM_JSON),
                        BodyPart.from_bytes(
                            jpeg,
                            f"image/jpeg; transfer-syntax={JPEG_BASELINE}",
                            Content_Location=f"jpeg-image-{index}",
                        ),
                    ],
                    part_type=DICOM_JSON,
                )
            raise_statuses = (UNSUPPORTED_MEDIA_TYPE,) if how == "auto" else ()
            [(_, outcome)] = send_stow(
                self.transport, self.profile, url, headers, body, [(item, header)], raise_statuses
            )
            return outcome

        outcomes: list[InstanceOutcome] = []
        start = 0
        if method == "auto" and paths:
            # The first image tells whether the server takes the JSON form; the rest follow its answer.
            try:
                outcomes.append(log_failure(log, store_one(0, "auto")))
                method = "json"
            except DicomWebHTTPError:
                log.info(
                    "the server refused DICOM JSON with bulk data (HTTP 415); building Part 10 instances"
                )
                method = "part10"
                outcomes.append(log_failure(log, store_one(0, "part10")))
            start = 1
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stow-jpeg") as pool:
            outcomes += (
                log_failure(log, o)
                for o in pool.map(lambda i: store_one(i, method), range(start, len(paths)))
            )
        head = input_problem_outcomes(problems)
        result = StoreResult(head + outcomes)
        log.info("store JPEG to %s: %s", self.transport.redact(url), result)
        return result


__all__ = ["METHODS", "StoreJpeg", "per_image_metadata"]
