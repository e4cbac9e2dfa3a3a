"""What ``airflow dicomweb`` commands do."""

from __future__ import annotations

import argparse
import sys

from airflow_dicomweb.hooks.deidentification import DeidentificationHook
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.hooks.dimse import DimseHook


def test_connection(args: argparse.Namespace) -> None:
    """``airflow dicomweb test-connection CONN_ID``: the hook of the connection's type tests it; exit 1
    when it fails."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(args.conn_id)
    if conn.conn_type == DimseHook.conn_type:
        ok, message = DimseHook(args.conn_id).test_connection()
    elif conn.conn_type == DeidentificationHook.conn_type:
        try:
            DeidentificationHook(args.conn_id).get_key()
            ok, message = True, f"connection {args.conn_id!r} holds a usable de-identification key"
        except Exception as exc:
            ok, message = False, str(exc)
    else:
        hook = DicomWebHook(args.conn_id)
        try:
            ok, message = hook.test_connection()
        finally:
            hook.close()
    print(f"{'OK' if ok else 'FAILED'}: {message}")
    if not ok:
        sys.exit(1)
