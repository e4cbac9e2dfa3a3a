"""The races of the benchmark, each client in its own process (benchmarks/worker.py), runs interleaved so
that no client always runs first or last on a shared, noisy machine."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from pydicom.uid import generate_uid

from benchmarks.zero_cost_server import ZeroCostServer
from tests.dicom_factory import make_series
from tests.servers.orthanc_server import OrthancServer

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_BYTES = 512 * 512 * 2  # pixel data of one CT instance


def worker(client: str, operation: str, args: dict, workdir: Path, source: Path | None = None) -> dict:
    """One run in its own process; ``source`` is a folder holding another ``airflow_dicomweb`` to run
    instead of the installed one (``scripts/bench.sh compare``)."""
    os.sync()  # no run pays for the page-cache writeback of the one before it
    args_file = workdir / f"args-{client}-{operation}.json"
    args_file.write_text(json.dumps({**args, "workdir": str(workdir)}))
    env = None
    if source is not None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])),
        }
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "worker.py"), client, operation, str(args_file)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{client} {operation} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    walls = [r["wall"] for r in runs]
    middle = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return {
        **middle,
        "wall": statistics.median(walls),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "rss_growth": max(r["rss_peak"] - r["rss_start"] for r in runs),
        "runs": len(runs),
        "walls": walls,  # every run, for the spread and per-run ratios
    }


def make_dataset(
    folder: Path, size_mib: int, studies_count: int = 2
) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """Studies of 4 series of 512x512 CT instances, about ``size_mib`` in all: the files, and
    study -> series -> files."""
    count = max(8, size_mib * 1024 * 1024 // (INSTANCE_BYTES + 2000))
    studies: dict[str, dict[str, list[str]]] = {}
    files: list[str] = []
    for n in range(studies_count):
        instances = count // studies_count + (1 if n < count % studies_count else 0)
        study = generate_uid()
        studies[study] = {}
        for s in range(4):
            share = instances // 4 + (1 if s < instances % 4 else 0)
            series = generate_uid()
            made = make_series(
                folder / f"study{n}" / f"series{s}",
                share,
                study_uid=study,
                series_uid=series,
                rows=512,
                columns=512,
            )
            studies[study][series] = [str(p) for p in made]
            files += studies[study][series]
    return files, studies


def interleaved(variants: list[tuple[str, str, dict]], repeat: int, run) -> dict[str, dict]:
    """``run(client, options) -> result`` for every variant, ``repeat`` rounds, round robin."""
    runs: dict[str, list[dict]] = {label: [] for _, label, _ in variants}
    for _ in range(repeat):
        for client, label, options in variants:
            runs[label].append(run(client, options))
    return {label: median_of(r) for label, r in runs.items()}


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# --- the zero-cost server ------------------------------------------------------------------------------


def zero_cost_race(
    work: Path, files: list[str], studies: dict, big: tuple[str, str, str] | None, opts
) -> dict:
    """curl, plain requests, dicomweb-client and the hook against nginx answering from files."""
    results: dict[str, dict] = {}
    clients = ["curl", "raw", "dicomweb-client", "hook"]
    with ZeroCostServer(work / "nginx") as server:
        study = max(studies, key=lambda s: sum(len(f) for f in studies[s].values()))
        server.add_study(study, studies[study])
        if big:
            server.add_study(big[0], {big[1]: [big[2]]})
        server.set_search_results(opts.search_instances)
        base = {"url": server.url, "login": "-", "password": "-", "zero_cost": True}
        print("zero-cost server (nginx):", flush=True)

        def store(client: str, options: dict, these: list[str]) -> dict:
            return worker(client, "store", {**base, "files": these, "options": options}, work)

        def retrieve(client: str, options: dict, uid: str, expected: int) -> dict:
            dest = fresh_dir(work / "out")
            args = {
                **base,
                "study": uid,
                "dest": str(dest),
                "expected_instances": expected,
                "options": options,
                "files": [f for these in studies.get(uid, {}).values() for f in these],
            }
            return worker(client, "retrieve", args, work)

        variants = [(c, c, {}) for c in clients]
        store_variants = [*variants, ("sendfile", "sendfile (floor)", {})]
        results["store"] = interleaved(store_variants, opts.repeat, lambda c, o: store(c, o, files))
        expected = sum(len(f) for f in studies[study].values())
        retrieve_variants = [
            *variants,
            ("hook", "hook (1 stream)", {"series_concurrency": 1}),
            ("files", "files alone", {}),
        ]
        results["retrieve"] = interleaved(
            retrieve_variants, opts.repeat, lambda c, o: retrieve(c, o, study, expected)
        )
        results["search"] = interleaved(
            variants, opts.repeat, lambda c, o: worker(c, "search", {**base, "options": o}, work)
        )
        if big:
            results["store 1 big"] = interleaved(variants, opts.repeat, lambda c, o: store(c, o, [big[2]]))
            results["retrieve 1 big"] = interleaved(
                variants, opts.repeat, lambda c, o: retrieve(c, o, big[0], 1)
            )
    shutil.rmtree(work / "out", ignore_errors=True)
    return results


# --- Orthanc -------------------------------------------------------------------------------------------------


def orthanc_race(work: Path, files: list[str], studies: dict, big: tuple[str, str, str] | None, opts) -> dict:
    """Plain requests, dicomweb-client (100 datasets a request) and the hook against a real Orthanc."""
    results: dict[str, dict] = {}
    clients = ["raw", "dicomweb-client", "hook"]
    print("Orthanc:", flush=True)

    def store_in_new_orthanc(client: str, options: dict, these: list[str]) -> dict:
        folder = work / "orthanc-store"
        shutil.rmtree(folder, ignore_errors=True)
        with OrthancServer(folder) as orthanc:
            args = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
            run = worker(client, "store", {**args, "files": these, "options": options}, work)
            assert orthanc.count_instances() == len(these), f"{client} did not store every instance"
        shutil.rmtree(folder, ignore_errors=True)
        return run

    variants = [(c, c, {}) for c in clients]
    results["store"] = interleaved(variants, opts.repeat, lambda c, o: store_in_new_orthanc(c, o, files))
    with OrthancServer(work / "orthanc") as orthanc:
        base = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
        worker("hook", "store", {**base, "files": files}, work)
        study = max(studies, key=lambda s: sum(len(f) for f in studies[s].values()))
        expected = sum(len(f) for f in studies[study].values())

        def retrieve(client: str, options: dict) -> dict:
            dest = fresh_dir(work / "out")
            args = {
                **base,
                "study": study,
                "dest": str(dest),
                "expected_instances": expected,
                "options": options,
                "files": [f for these in studies[study].values() for f in these],
            }
            run = worker(client, "retrieve", args, work)
            assert client == "raw" or run["instances"] == expected, f"{client} missed instances"
            return run

        retrieve_variants = [
            *variants,
            ("hook", "hook (1 stream)", {"series_concurrency": 1}),
            ("files", "files alone", {}),
        ]
        results["retrieve"] = interleaved(retrieve_variants, opts.repeat, retrieve)
    if big:
        results["store 1 big"] = interleaved(variants, 1, lambda c, o: store_in_new_orthanc(c, o, [big[2]]))
    results["search"] = orthanc_search(work, clients, opts)
    shutil.rmtree(work / "out", ignore_errors=True)
    return results


def orthanc_search(work: Path, clients: list[str], opts) -> dict:
    with OrthancServer(work / "orthanc-search") as orthanc:
        base = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
        print(f"  storing {opts.search_instances} small instances for the search race ...", flush=True)
        small = make_series(work / "small", opts.search_instances, rows=8, columns=8)
        worker("hook", "store", {**base, "files": [str(p) for p in small]}, work)
        shutil.rmtree(work / "small", ignore_errors=True)
        variants = [(c, c, {}) for c in clients]
        variants.append(("hook", "hook (to a file)", {"to_file": True}))
        return interleaved(
            variants, opts.repeat, lambda c, o: worker(c, "search", {**base, "options": o}, work)
        )


# --- latency: the same server 20 ms away, by concurrency -------------------------------------------------------


def latency_race(work: Path, files: list[str], studies: dict, opts) -> dict:
    """Store and retrieve through a latency proxy (0 and ``rtt`` ms), at several concurrencies."""
    results: dict[str, dict] = {}
    with OrthancServer(work / "orthanc-latency") as orthanc:
        creds = {"login": orthanc.username, "password": orthanc.password}
        worker("hook", "store", {"url": orthanc.dicomweb_url, **creds, "files": files}, work)
        study = max(studies, key=lambda s: sum(len(f) for f in studies[s].values()))
        expected = sum(len(f) for f in studies[study].values())
        for rtt in (0, opts.latency_ms):
            proxy = subprocess.Popen(
                [sys.executable, str(ROOT / "benchmarks" / "latency_proxy.py"), str(orthanc.port), str(rtt)],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                port = int(proxy.stdout.readline())
                url = f"http://127.0.0.1:{port}/dicom-web"
                print(f"Orthanc {rtt} ms away (latency proxy):", flush=True)
                for n in opts.concurrency:
                    variants = [
                        ("raw", "raw", {"threads": n}),
                        ("dicomweb-client", "dicomweb-client", {"threads": n}),
                        ("hook", "hook", {"series_concurrency": n, "concurrency": n}),
                    ]

                    def retrieve(client: str, options: dict, url: str = url) -> dict:
                        dest = fresh_dir(work / "out")
                        args = {
                            "url": url,
                            **creds,
                            "study": study,
                            "dest": str(dest),
                            "expected_instances": expected,
                        }
                        if client == "hook":
                            options = {"series_concurrency": options["series_concurrency"]}
                        return worker(client, "retrieve", {**args, "options": options}, work)

                    def store(client: str, options: dict, url: str = url) -> dict:
                        # already stored: the hook's pre-check would skip everything, so it sends all here
                        if client == "hook":
                            options = {"concurrency": options["concurrency"], "skip_existing": False}
                        return worker(
                            client, "store", {"url": url, **creds, "files": files, "options": options}, work
                        )

                    results[f"retrieve {rtt:g} ms x{n}"] = interleaved(
                        variants, opts.latency_repeat, retrieve
                    )
                    results[f"store {rtt:g} ms x{n}"] = interleaved(variants, opts.latency_repeat, store)
            finally:
                proxy.terminate()
                proxy.wait()
    shutil.rmtree(work / "out", ignore_errors=True)
    return results


# --- object storage: store from S3 and retrieve into it (moto's S3 server) --------------------------------------


def object_store_race(work: Path, files: list[str], studies: dict, opts) -> dict:
    """The hook storing from an S3 prefix and retrieving into one, against the same from and to local files,
    with Orthanc as the server and moto in server mode as S3 (its own process: its memory is not counted)."""
    import boto3

    from tests.servers.moto_server import MotoServer

    results: dict[str, dict] = {}
    moto = MotoServer().start()
    print("object storage (moto's S3 server):", flush=True)
    try:
        env = {"AIRFLOW_CONN_AWS_MOTO": json.dumps(moto.connection())}
        keys = moto.storage_options()
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            aws_access_key_id=keys["key"],
            aws_secret_access_key=keys["secret"],
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="bench")
        root = work / "latency-data"
        for path in files:
            s3.upload_file(path, "bench", "landing/" + str(Path(path).relative_to(root)))

        def store(client: str, options: dict) -> dict:
            folder = work / "orthanc-s3-store"
            shutil.rmtree(folder, ignore_errors=True)
            with OrthancServer(folder) as orthanc:
                args = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
                run = worker(client, "store", {**args, "files": files, "env": env, **options}, work)
                assert orthanc.count_instances() == len(files), "not every instance was stored"
            shutil.rmtree(folder, ignore_errors=True)
            return run

        variants = [
            ("hook", "hook, local files", {}),
            ("hook", "hook, from S3", {"object_store": "s3://aws_moto@bench/landing/"}),
        ]
        results["store"] = interleaved(variants, opts.latency_repeat, store)
        with OrthancServer(work / "orthanc-s3") as orthanc:
            base = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
            worker("hook", "store", {**base, "files": files}, work)
            study = next(iter(studies))
            expected = sum(len(f) for f in studies[study].values())
            runs = iter(range(1000))

            def retrieve(client: str, options: dict) -> dict:
                dest = fresh_dir(work / "out")
                target = {k: v.format(n=next(runs)) for k, v in options.items()}  # a new prefix each run
                args = {**base, "study": study, "dest": str(dest), "expected_instances": expected, "env": env}
                return worker(client, "retrieve", {**args, **target}, work)

            variants = [
                ("hook", "hook, local files", {}),
                ("hook", "hook, into S3", {"object_store": "s3://aws_moto@bench/out-{n}/"}),
            ]
            results["retrieve"] = interleaved(variants, opts.latency_repeat, retrieve)
    finally:
        moto.stop()
    shutil.rmtree(work / "out", ignore_errors=True)
    return results
