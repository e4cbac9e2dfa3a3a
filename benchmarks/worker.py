"""One client doing one operation, in its own process, so that its peak RSS is its own.

    python benchmarks/worker.py CLIENT OPERATION ARGS_JSON

prints one JSON line: wall seconds, instances, bytes, RSS at the start and at the peak (MiB).
Clients: ``raw`` (plain requests, the baseline), ``dicomweb-client``, ``hook`` (DicomWebHook).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mib() -> float:
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """This process's own high-water mark. (getrusage's ru_maxrss is not: it survives exec, so a worker
    started by a large parent would report the parent's peak.)"""
    return _status_mib("VmHWM")


# --- raw baseline: plain requests ------------------------------------------------------------------------


def raw_session(args):
    import requests

    session = requests.Session()
    session.auth = (args["login"], args["password"])
    return session


def raw_store(args) -> tuple[int, int]:
    """8 threads, a keep-alive session per thread, one instance per POST."""
    local = threading.local()
    boundary = "rawbaselineboundary"
    url = args["url"] + "/studies"
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }

    def post(path: str) -> int:
        if not hasattr(local, "session"):
            local.session = raw_session(args)
        data = Path(path).read_bytes()
        body = (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        response = local.session.post(url, data=body, headers=headers, timeout=300)
        response.raise_for_status()
        return len(data)

    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(post, args["files"]))
    return len(sizes), sum(sizes)


def raw_retrieve(args) -> tuple[int, int]:
    """The multipart response's raw bytes written to one file."""
    session = raw_session(args)
    response = session.get(
        f"{args['url']}/studies/{args['study']}",
        stream=True,
        timeout=300,
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
    )
    response.raise_for_status()
    total = 0
    with open(Path(args["dest"]) / "study.multipart", "wb") as out:
        for chunk in response.iter_content(1024 * 1024):
            out.write(chunk)
            total += len(chunk)
    return args["expected_instances"], total


def raw_search(args) -> tuple[int, int]:
    """One unpaged request for every instance."""
    response = raw_session(args).get(
        f"{args['url']}/instances", timeout=300, headers={"Accept": "application/dicom+json"}
    )
    response.raise_for_status()
    return len(response.json()), len(response.content)


# --- dicomweb-client, used the way its documentation shows --------------------------------------------------


def dwc_client(args):
    from dicomweb_client.api import DICOMwebClient

    return DICOMwebClient(args["url"], session=raw_session(args))


def dwc_store(args) -> tuple[int, int]:
    import pydicom

    client = dwc_client(args)
    total = 0
    for path in args["files"]:
        client.store_instances(datasets=[pydicom.dcmread(path)])
        total += os.path.getsize(path)
    return len(args["files"]), total


def dwc_retrieve(args) -> tuple[int, int]:
    client = dwc_client(args)
    count = total = 0
    for ds in client.iter_study(args["study"]):
        path = Path(args["dest"]) / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        count += 1
        total += path.stat().st_size
    return count, total


def dwc_search(args) -> tuple[int, int]:
    found = dwc_client(args).search_for_instances(get_remaining=True)
    return len(found), 0


# --- this project -------------------------------------------------------------------------------------


def hook(args):
    os.environ["AIRFLOW_CONN_DICOMWEB_BENCH"] = json.dumps(
        {"conn_type": "dicomweb", "host": args["url"], "login": args["login"], "password": args["password"]}
    )
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    return DicomWebHook("dicomweb_bench")


def hook_store(args) -> tuple[int, int]:
    result = hook(args).store_instances(args["files"], **args.get("options", {}))
    if not result.ok:
        raise RuntimeError(f"store failed: {result.failed[:3]}")
    return len(result.stored), sum(os.path.getsize(o.path) for o in result.stored)


def hook_retrieve(args) -> tuple[int, int]:
    paths = hook(args).retrieve_study(args["study"], args["dest"], **args.get("options", {}))
    return len(paths), sum(p.stat().st_size for p in paths)


def hook_search(args) -> tuple[int, int]:
    found = list(hook(args).iter_search("instances", **args.get("options", {})))
    return len(found), 0


OPERATIONS = {
    ("raw", "store"): raw_store,
    ("raw", "retrieve"): raw_retrieve,
    ("raw", "search"): raw_search,
    ("dicomweb-client", "store"): dwc_store,
    ("dicomweb-client", "retrieve"): dwc_retrieve,
    ("dicomweb-client", "search"): dwc_search,
    ("hook", "store"): hook_store,
    ("hook", "retrieve"): hook_retrieve,
    ("hook", "search"): hook_search,
}


def main() -> None:
    client, operation, raw_args = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(Path(raw_args).read_text()) if raw_args.endswith(".json") else json.loads(raw_args)
    fn = OPERATIONS[(client, operation)]
    if client == "hook":  # import Airflow before measuring, as a task would have it loaded
        hook(args)
    elif client == "dicomweb-client":
        import dicomweb_client.api  # noqa: F401
    import requests  # noqa: F401

    start_rss = rss_mib()
    started = time.perf_counter()
    instances, nbytes = fn(args)
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall": wall,
                "instances": instances,
                "bytes": nbytes,
                "rss_start": start_rss,
                "rss_peak": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    main()
