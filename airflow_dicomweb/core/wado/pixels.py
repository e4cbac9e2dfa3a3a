"""WADO-RS of pixels: a rendered image (PNG, JPEG) of an instance or a frame, and frames' pixel data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import (
    OCTET_STREAM,
    RENDERED_TYPES,
    multipart_accept,
    parse_content_type,
)
from airflow_dicomweb.core.uids import resource_segments
from airflow_dicomweb.core.wado.response import WadoResponses


class RetrievePixels:
    """The rendered and frames transactions (WADO-RS) over ``transport``."""

    def __init__(self, transport: Transport, responses: WadoResponses) -> None:
        self.transport = transport
        self.responses = responses

    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = "image/png",
        viewport: tuple[int, int] | str | None = None,
        quality: int | None = None,
        frame_number: int | None = None,
        window: tuple[float, float, str] | str | None = None,
    ) -> bytes:
        """A consumer-ready image of an instance (or one frame of it): PNG or JPEG bytes."""
        if media_type not in RENDERED_TYPES:
            raise ValueError(f"media_type must be one of {', '.join(sorted(RENDERED_TYPES))}")
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        if frame_number is not None:
            segments += ["frames", str(_frame_number(frame_number))]
        params = []
        if viewport is not None:
            params.append(
                ("viewport", viewport if isinstance(viewport, str) else ",".join(map(str, viewport)))
            )
        if quality is not None:
            if not 1 <= int(quality) <= 100:
                raise ValueError("quality must be between 1 and 100")
            params.append(("quality", str(int(quality))))
        if window is not None:
            params.append(("window", window if isinstance(window, str) else ",".join(map(str, window))))
        url = self.transport.url(*segments, "rendered")
        response = self.transport.request(
            "GET",
            url,
            query="&".join(f"{k}={v}" for k, v in params) or None,
            headers={"Accept": media_type},
            binary=True,
        )
        got = parse_content_type(response.headers.get("Content-Type"))[0]
        if got != media_type:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: asked for {media_type}, got {got or 'no Content-Type'}"
            )
        return response.content

    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int] | int,
        transfer_syntax: str | None = None,
    ) -> list[bytes]:
        """Pixel data of the given frames (numbered from 1), one bytes value per frame, in order.

        By default the server's default (uncompressed, little endian); ``transfer_syntax="*"`` asks for the
        frames as stored.
        """
        numbers = [frame_numbers] if isinstance(frame_numbers, int) else list(frame_numbers)
        if not numbers:
            raise ValueError("frame_numbers is empty")
        numbers = [_frame_number(n) for n in numbers]
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        url = self.transport.url(*segments, "frames", ",".join(map(str, numbers)))
        frames = self.responses.fetch_parts(url, multipart_accept(OCTET_STREAM, transfer_syntax))
        if len(frames) != len(numbers):
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: {len(frames)} frames returned for {len(numbers)} asked"
            )
        return frames


def _frame_number(value: Any) -> int:
    number = int(value)
    if number < 1 or str(number) != str(value).strip():
        raise ValueError(f"frame numbers start at 1; got {value!r}")
    return number
