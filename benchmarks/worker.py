"""One client doing one operation, in its own process, so that its peak RSS is its own.

    python benchmarks/worker.py CLIENT OPERATION ARGS_JSON

prints one JSON line: wall seconds, client CPU seconds (user + system of this process and of the
programs it ran), instances, bytes, RSS at the start and at the peak (MiB).
Clients: ``curl`` (the native ceiling), ``raw`` (plain requests, the baseline), ``dicomweb-client``,
``hook`` (DicomWebHook), for stores ``sendfile`` (the floor: the files' bytes handed to the kernel, never
read by the process), and for retrieves ``files``: no network, the study's instances (read into memory
before the clock starts) written one file each under a temporary name, then renamed, into
``<study>/<series>/``: the floor of any client that writes one file per instance on this machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
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


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def count_requests() -> list[int]:
    """Counts the HTTP requests this process sends through urllib3 (requests, the hook, dicomweb-client)
    in the returned list's first item. curl's are not counted."""
    import urllib3.connectionpool

    counter = [0]
    original = urllib3.connectionpool.HTTPConnectionPool.urlopen

    def urlopen(self, method, url, *args, **kwargs):
        counter[0] += 1  # a retry or redirect of urllib3's own comes back here: a request too
        return original(self, method, url, *args, **kwargs)

    urllib3.connectionpool.HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
    return counter


# --- curl: the native ceiling ---------------------------------------------------------------------------


def curl_store(args) -> tuple[int, int]:
    """One curl, up to ``threads`` uploads at once over keep-alive connections, one instance per POST
    (single-part ``application/dicom``: the same bytes, no multipart framing)."""
    config = Path(args["workdir"]) / "curl-store.conf"
    blocks = [
        f'url = "{args["url"]}/studies"\nheader = "Content-Type: application/dicom"\n'
        f'data-binary = "@{path}"\noutput = "/dev/null"\n'
        for path in args["files"]
    ]
    config.write_text("next\n".join(blocks))
    threads = args.get("options", {}).get("threads", 8)
    subprocess.run(
        [
            "curl",
            "-sSf",
            "--parallel",
            "--parallel-max",
            str(threads),
            "-u",
            f"{args['login']}:{args['password']}",
            "-K",
            str(config),
        ],
        check=True,
    )
    return len(args["files"]), sum(os.path.getsize(p) for p in args["files"])


def curl_download(args, url: str, accept: str, target: Path) -> int:
    """One GET with curl into ``target``; its size."""
    credentials = f"{args['login']}:{args['password']}"
    subprocess.run(
        ["curl", "-sSf", "-u", credentials, "-o", str(target), "-H", f"Accept: {accept}", url], check=True
    )
    return target.stat().st_size


def curl_retrieve(args) -> tuple[int, int]:
    """The study's multipart response downloaded to one file."""
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    url = f"{args['url']}/studies/{args['study']}"
    return args["expected_instances"], curl_download(
        args, url, accept, Path(args["dest"]) / "study.multipart"
    )


def curl_search(args) -> tuple[int, int]:
    target = Path(args["workdir"]) / "search.json"
    size = curl_download(args, f"{args['url']}/instances", "application/dicom+json", target)
    return len(json.loads(target.read_bytes())), size


# --- the floor of a store: the kernel's own copy ----------------------------------------------------------


def sendfile_store(args) -> tuple[int, int]:
    """The floor of sending these instances as STOW-RS requests on this machine: 4 keep-alive connections
    (the hook's concurrency), each posting multipart bodies of 16 instances (the hook's batches), the headers
    and boundaries written from Python and each file's bytes handed to the kernel with ``os.sendfile``: no
    byte of a file passes through this process. Plain HTTP only (the zero-cost server)."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(args["url"])
    path = f"{url.path}/studies"
    files = args["files"]
    batches = [files[i : i + 16] for i in range(0, len(files), 16)]
    boundary = "sendfilefloorboundary"

    def post_all(share: list[list[str]]) -> None:
        with socket.create_connection((url.hostname, url.port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            for batch in share:
                head = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                tail = f"\r\n--{boundary}--\r\n".encode()
                sizes = [os.path.getsize(p) for p in batch]
                length = sum(sizes) + len(head) * len(batch) + 2 * (len(batch) - 1) + len(tail)
                sock.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {length}\r\n"
                    f'Content-Type: multipart/related; type="application/dicom"; boundary={boundary}\r\n'
                    "Accept: application/dicom+json\r\n\r\n".encode()
                )
                for n, (name, size) in enumerate(zip(batch, sizes, strict=True)):
                    sock.sendall((b"\r\n" if n else b"") + head)
                    with open(name, "rb") as f:
                        sent = 0
                        while sent < size:
                            sent += os.sendfile(sock.fileno(), f.fileno(), sent, size - sent)
                sock.sendall(tail)
                status = reader.readline()
                if b" 200 " not in status:
                    raise RuntimeError(f"sendfile floor: {status!r}")
                answer_length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        answer_length = int(line.split(b":")[1])
                reader.read(answer_length)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post_all, [batches[n::4] for n in range(4)]))
    return len(files), sum(os.path.getsize(p) for p in files)


# --- raw baseline: plain requests ------------------------------------------------------------------------


def raw_session(args):
    import requests

    session = requests.Session()
    session.auth = (args["login"], args["password"])
    return session


def input_files(args) -> list[str]:
    """The files given, or every file under ``folder`` (the scale benchmark's hundred thousand)."""
    if args.get("files"):
        return args["files"]
    return sorted(str(p) for p in Path(args["folder"]).rglob("*") if p.is_file())


def raw_store(args) -> tuple[int, int]:
    """8 threads (or ``threads``), a keep-alive session per thread, one instance per POST, no pre-check."""
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

    with ThreadPoolExecutor(args.get("options", {}).get("threads", 8)) as pool:
        sizes = list(pool.map(post, input_files(args)))
    return len(sizes), sum(sizes)


def raw_retrieve(args) -> tuple[int, int]:
    """The multipart response's raw bytes written to one file; with ``threads`` > 1, one GET per series,
    that many at once, each to its own file."""
    threads = args.get("options", {}).get("threads", 1)
    urls = [f"{args['url']}/studies/{args['study']}"]
    if threads > 1:
        listing = raw_session(args).get(f"{urls[0]}/series", timeout=300).json()
        urls = [f"{urls[0]}/series/{s['0020000E']['Value'][0]}" for s in listing]

    def fetch(n: int) -> int:
        response = raw_session(args).get(
            urls[n],
            stream=True,
            timeout=300,
            headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        response.raise_for_status()
        total = 0
        with open(Path(args["dest"]) / f"part{n}.multipart", "wb") as out:
            for chunk in response.iter_content(1024 * 1024):
                out.write(chunk)
                total += len(chunk)
        return total

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(fetch, range(len(urls))))
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
    """At its best batching: 100 datasets per request (``batch``), ``threads`` requests at once."""
    import pydicom

    options = args.get("options", {})
    batch = options.get("batch", 100)
    files = args["files"]
    batches = [files[i : i + batch] for i in range(0, len(files), batch)]
    local = threading.local()

    def send(paths: list[str]) -> int:
        if not hasattr(local, "client"):
            local.client = dwc_client(args)
        local.client.store_instances(datasets=[pydicom.dcmread(p) for p in paths])
        return sum(os.path.getsize(p) for p in paths)

    with ThreadPoolExecutor(options.get("threads", 1)) as pool:
        total = sum(pool.map(send, batches))
    return len(files), total


def dwc_retrieve(args) -> tuple[int, int]:
    """Instances as datasets, saved one by one; with ``threads`` > 1, one series per thread."""
    threads = args.get("options", {}).get("threads", 1)

    def save(datasets) -> tuple[int, int]:
        count = total = 0
        for ds in datasets:
            path = Path(args["dest"]) / f"{ds.SOPInstanceUID}.dcm"
            ds.save_as(path, enforce_file_format=True)
            count += 1
            total += path.stat().st_size
        return count, total

    if threads <= 1:
        return save(dwc_client(args).iter_study(args["study"]))
    series = [s["0020000E"]["Value"][0] for s in dwc_client(args).search_for_series(args["study"])]
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda se: save(dwc_client(args).iter_series(args["study"], se)), series))
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def dwc_search(args) -> tuple[int, int]:
    found = dwc_client(args).search_for_instances(get_remaining=True)
    return len(found), 0


# --- the floor: writing the files alone ---------------------------------------------------------------


def files_prepare(args) -> None:
    """Read the instances to write into memory, before the clock starts."""
    args["_data"] = [(Path(p).parent.name, Path(p).name, Path(p).read_bytes()) for p in args["files"]]


def files_retrieve(args) -> tuple[int, int]:
    dest = Path(args["dest"])
    total = 0
    made: set[str] = set()
    for n, (folder, name, data) in enumerate(args["_data"]):
        target_dir = os.path.join(dest, args["study"], folder)
        if target_dir not in made:
            os.makedirs(target_dir, exist_ok=True)
            made.add(target_dir)
        temp = os.path.join(target_dir, f".tmp-{n}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, data)
        os.close(fd)
        os.replace(temp, os.path.join(target_dir, name))
        total += len(data)
    return len(args["_data"]), total


# --- this project -------------------------------------------------------------------------------------


def hook(args):
    os.environ.update(args.get("env", {}))
    os.environ["AIRFLOW_CONN_DICOMWEB_BENCH"] = json.dumps(
        {
            "conn_type": "dicomweb",
            "host": args["url"],
            "login": args["login"],
            "password": args["password"],
            "extra": {"server": args["server"]} if args.get("server") else {},
        }
    )
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    return DicomWebHook("dicomweb_bench")


def hook_store(args) -> tuple[int, int]:
    files = args.get("files") or [args["folder"]]
    if args.get("object_store"):  # an s3:// prefix, streamed from the object store as a DAG would give it
        from airflow_dicomweb.operators.storage_paths import as_input

        files = [as_input(args["object_store"])]
    result = hook(args).store_instances(files, **args.get("options", {}))
    if args.get(
        "zero_cost"
    ):  # the canned acknowledgement lists no instance: every byte was sent all the same
        return len(result.outcomes), sum(o.size or 0 for o in result.outcomes)
    if not result.ok:
        raise RuntimeError(f"store failed: {result.failed[:3]}")
    if args.get("expect_present"):  # a second store of the same files: every one found by the pre-check
        if len(result.already_present) != len(result.outcomes):
            raise RuntimeError(f"re-store sent files again: {result}")
        return len(result.already_present), sum(o.size or 0 for o in result.already_present)
    return len(result.stored), sum(o.size or 0 for o in result.stored)


def hook_retrieve(args) -> tuple[int, int]:
    from airflow_dicomweb.core.storage.paths import size
    from airflow_dicomweb.operators.storage_paths import to_path

    dest = to_path(args["object_store"]) if args.get("object_store") else args["dest"]
    paths = hook(args).retrieve_study(args["study"], dest, **args.get("options", {}))
    return len(paths), sum(size(p) for p in paths)


def hook_search(args) -> tuple[int, int]:
    options = dict(args.get("options", {}))
    results = hook(args).iter_search(
        "instances", **{k: v for k, v in options.items() if k not in ("to_file", "count_only")}
    )
    if options.get("count_only"):  # the scale benchmark: what the search holds, not the results
        return sum(1 for _ in results), 0
    if not options.get("to_file"):
        found = list(results)
        return len(found), 0
    count = 0  # as the search operator writes output_path: streamed, never a list of every match
    with open(Path(args["workdir"]) / "search.json", "w") as out:
        out.write("[")
        for count, item in enumerate(results, 1):
            out.write(("," if count > 1 else "") + "\n" + json.dumps(item))
        out.write("\n]\n")
    return count, 0


def hook_retrieve_studies(args) -> tuple[int, int]:
    """The studies given (UIDs), each retrieved into its own folder, ``threads`` at once, as an export
    DAG's mapped tasks would."""
    from airflow_dicomweb.core.storage.paths import size

    client = hook(args)
    studies = args["studies"]
    options = args.get("options", {})

    def one(uid: str) -> tuple[int, int]:
        paths = client.retrieve_study(uid, args["dest"], series_concurrency=1)
        return len(paths), sum(size(p) for p in paths)

    with ThreadPoolExecutor(options.get("threads", 8)) as pool:
        parts = list(pool.map(one, studies))
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def hook_search_studies(args) -> tuple[int, int]:
    found = sum(1 for _ in hook(args).iter_search("studies", includefield=["0020000D"]))
    return found, 0


def hook_watch(args) -> tuple[int, int]:
    """The study-arrival watcher's poll over a window holding every study: the baseline poll, then a
    second poll that finds nothing new (each poll reads the whole window)."""
    import datetime as dt

    from airflow_dicomweb.core.arrivals.search import ArrivalCursor, poll_new_studies

    client = hook(args)
    now = dt.datetime.now(dt.UTC)
    _, cursor = poll_new_studies(client, ArrivalCursor(), now=now, lookback_days=1)
    new, cursor = poll_new_studies(client, cursor, now=now, lookback_days=1)
    if new:
        raise RuntimeError(f"the second poll announced {len(new)} studies")
    return len(cursor.seen), 0


OPERATIONS = {
    ("hook", "retrieve-studies"): hook_retrieve_studies,
    ("hook", "search-studies"): hook_search_studies,
    ("hook", "watch"): hook_watch,
    ("curl", "store"): curl_store,
    ("curl", "retrieve"): curl_retrieve,
    ("curl", "search"): curl_search,
    ("raw", "store"): raw_store,
    ("sendfile", "store"): sendfile_store,
    ("raw", "retrieve"): raw_retrieve,
    ("raw", "search"): raw_search,
    ("dicomweb-client", "store"): dwc_store,
    ("dicomweb-client", "retrieve"): dwc_retrieve,
    ("dicomweb-client", "search"): dwc_search,
    ("hook", "store"): hook_store,
    ("hook", "retrieve"): hook_retrieve,
    ("hook", "search"): hook_search,
    ("files", "retrieve"): files_retrieve,
}


def main() -> None:
    client, operation, raw_args = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(Path(raw_args).read_text()) if raw_args.endswith(".json") else json.loads(raw_args)
    fn = OPERATIONS[(client, operation)]
    if client == "hook":  # Airflow loaded and configured before measuring, as a task would have it
        _ = hook(args).settings
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        get_hook_lineage_collector()  # Airflow's plugins, which a task's process has loaded before it runs
    elif client == "dicomweb-client":
        import dicomweb_client.api  # noqa: F401
    elif client == "files":
        files_prepare(args)
    import requests  # noqa: F401

    if client == "hook" and args.get("zero_cost"):
        import logging

        logging.getLogger("airflow_dicomweb.core.stow.store").setLevel(logging.ERROR)  # 1 line per "failure"
    counted = count_requests()
    start_rss = rss_mib()
    cpu = cpu_seconds()
    started = time.perf_counter()
    instances, nbytes = fn(args)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "instances": instances,
                "bytes": nbytes,
                "rss_start": start_rss,
                "rss_peak": peak_rss_mib(),
                "requests": counted[0],
            }
        )
    )


if __name__ == "__main__":
    main()
