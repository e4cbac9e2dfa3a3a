"""What the DICOMweb triggers share: a core client built from a connection fetched the async way, and closed
when done (:func:`connected`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from airflow.sdk import BaseHook

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.hooks.dicomweb import settings_from_connection


async def client_for(dicomweb_conn_id: str) -> DicomWebClient:
    """A core client for the connection. The connection is read with ``aget_connection`` (the synchronous
    lookup may deadlock on the triggerer's event loop); building the client, which may read a key file,
    runs in a thread."""
    conn = await BaseHook.aget_connection(dicomweb_conn_id)
    return await asyncio.to_thread(lambda: DicomWebClient(settings_from_connection(conn)))


@contextlib.asynccontextmanager
async def connected(dicomweb_conn_id: str) -> AsyncIterator[DicomWebClient]:
    """``async with connected(conn_id) as client``: a client for the connection, closed (in a thread) on
    the way out, whatever happened."""
    client = await client_for(dicomweb_conn_id)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.close)
