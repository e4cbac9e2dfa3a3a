"""Bodies a hostile server sends: compression bombs, endless bodies, trickles, and a child process that
runs one client call and reports its peak RSS."""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=4)
def gzip_bomb(decoded_mib: int, fill: bytes = b"\0") -> bytes:
    """A gzip stream (about 1 MiB per GiB) that decodes to ``decoded_mib`` MiB of ``fill``: one member of
    16 MiB, repeated (a gzip stream may hold several members, and decoders read them all)."""
    member = gzip.compress(fill * (16 * MIB // len(fill)), compresslevel=9)
    return member * max(1, decoded_mib // 16)


def endless(prefix: bytes, unit: bytes, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """``prefix``, then ``unit`` repeated forever (until the client hangs up)."""
    yield prefix
    block = unit * max(1, chunk // len(unit))
    while True:
        yield block


def trickle(data: bytes, interval: float) -> Iterator[bytes]:
    """``data`` one byte at a time, ``interval`` seconds apart: never idle long enough for a read timeout."""
    for i in range(len(data)):
        yield data[i : i + 1]
        time.sleep(interval)


def multipart_head(boundary: str = "B", part_type: str = "application/octet-stream") -> bytes:
    return f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()


CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from airflow_dicomweb.core.client import DicomWebClient

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

client = DicomWebClient.from_url({url!r}, **{extra!r})
call = {call!r}
import gc; gc.collect()
start = hwm_kib()
started = time.monotonic()
try:
    exec(call, {{"client": client}})
    outcome = {{"error": None}}
except Exception as exc:
    outcome = {{"error": type(exc).__name__, "message": str(exc)[:500]}}
outcome.update(start_kib=start, peak_kib=hwm_kib(), seconds=time.monotonic() - started)
print(json.dumps(outcome))
"""


def run_in_child(url: str, call: str, timeout: float = 300, **extra) -> dict:
    """Run ``call`` (Python using ``client``) in a fresh interpreter; its error and peak RSS growth in MiB.

    A child process measures its own ``VmHWM``: the peak the call drove memory to, which tracemalloc would
    miss for buffers allocated outside Python's allocator.
    """
    code = CHILD.format(root=str(ROOT), url=url, extra=extra, call=call)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"the child failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["growth_mib"] = (result["peak_kib"] - result["start_kib"]) / 1024
    return result
