"""De-identification side by side: this project's de-identifier, dicognito, deid and dicom-anonymizer on the
same corpus (tests/deid_corpus.py: a study with identifiers planted where real files carry them), each with
its defaults. For each tool: the planted identifiers left in any output byte, original UIDs left, whether
references stay consistent, whether pixel data is byte-identical, whether instances that may show identity in
their pixels are released, the dciodvfy errors its outputs have that their inputs did not, and files per
second, one core and all cores, against dicognito and the floor (pydicom reading and writing the same files,
changing nothing), on two corpora: the planted study many times, and CT instances of a scanner's size.

Run: .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/deidentify_compare.py
Writes benchmarks/results/deidentify-compare.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_dicomweb.core.deid.deidentifier import Deidentifier  # noqa: E402
from airflow_dicomweb.core.deid.files import deidentify_files  # noqa: E402
from airflow_dicomweb.core.deid.key import DeidentificationKey  # noqa: E402
from tests.deid_corpus import PLANTED, PlantedStudy, make_planted_study  # noqa: E402
from tests.dicom_factory import make_series  # noqa: E402

KEY = "benchmark-key-not-a-secret-0123456789"


def run_ours(files: list[Path], out: Path) -> None:
    deidentify_files(Deidentifier(DeidentificationKey(KEY)), files, out)


def run_dicognito(files: list[Path], out: Path) -> None:
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed=KEY)
    for path in files:
        ds = dcmread(path)
        anonymizer.anonymize(ds)
        ds.save_as(out / path.name)


def run_deid(files: list[Path], out: Path) -> None:
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    replace_identifiers(
        dicom_files=[str(f) for f in files],
        deid=DeidRecipe(),
        save=True,
        output_folder=str(out),
        remove_private=True,
    )


def run_dicom_anonymizer(files: list[Path], out: Path) -> None:
    from dicomanonymizer import anonymize

    for path in files:
        anonymize(str(path), str(out / path.name), {}, True)


def run_floor(files: list[Path], out: Path) -> None:
    """The floor: the same files read and written with pydicom, nothing changed."""
    for path in files:
        dcmread(path).save_as(out / path.name)


#: Not a de-identifier: what reading and writing the files costs, for the speed table only.
FLOOR = "pydicom read+write (floor)"
#: The speed table's corpora: the planted study (small images, so the attributes are most of the work), and
#: CT instances of a scanner's size.
SMALL = "planted study (about 3 KB a file)"
REAL_SIZE = "512x512 CT (about 513 KB a file)"

TOOLS = {
    "airflow-dicomweb": run_ours,
    "dicognito": run_dicognito,
    "deid": run_deid,
    "dicom-anonymizer": run_dicom_anonymizer,
}


def dciodvfy_errors(path: Path) -> set[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return {line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")}


def outputs_by_source(tool: str, planted: PlantedStudy, out: Path) -> dict[str, Path]:
    """Which output came from which input: by SOP Instance UID's position (ours names files by new UIDs)."""
    found = {
        p: dcmread(p, stop_before_pixels=True)
        for p in out.rglob("*")
        if p.is_file() and p.suffix in {".dcm", ""}
    }
    by_source: dict[str, Path] = {}
    for source in planted.files:
        original = dcmread(source, stop_before_pixels=True)
        for path, ds in found.items():
            same = path.name == source.name or (
                getattr(ds, "InstanceNumber", None) == getattr(original, "InstanceNumber", None)
                and getattr(ds, "SOPClassUID", None) == original.SOPClassUID
                and getattr(ds, "Modality", None) == getattr(original, "Modality", None)
                and getattr(ds, "SeriesNumber", None) == getattr(original, "SeriesNumber", None)
            )
            if same:
                by_source[source.name] = path
                break
    return by_source


def where_left(path: Path) -> set[str]:
    """Where in an output file a planted identifier is: the preamble, File Meta Information, or an attribute
    (private ones named as such)."""
    data = path.read_bytes()
    places: set[str] = set()

    def holds(blob: bytes) -> bool:
        return any(v.upper().encode() in blob.upper() for v in PLANTED)

    if holds(data[:128]):
        places.add("preamble")
    ds = dcmread(path)
    for elem in ds.file_meta:
        if holds(str(elem.value).encode("latin-1", "replace")):
            places.add(f"file meta {elem.keyword}")
    for elem in ds.iterall():
        if elem.VR == "SQ" or elem.tag == 0x7FE00010:
            continue
        value = elem.value if isinstance(elem.value, bytes) else str(elem.value).encode("latin-1", "replace")
        if holds(value):
            places.add("private attributes" if elem.tag.is_private else elem.keyword or str(elem.tag))
    return places


def judge(tool: str, planted: PlantedStudy, out: Path) -> dict:
    by_source = outputs_by_source(tool, planted, out)
    left: set[str] = set()
    places: set[str] = set()
    uids_left: set[str] = set()
    new_errors = 0
    pixels_same = True
    for name, path in by_source.items():
        data = path.read_bytes().upper()
        left |= {v for v in PLANTED if v.upper().encode() in data}
        places |= where_left(path)
        uids_left |= {k for k, u in planted.uids.items() if u.encode() in data}
        source = planted.folder / name
        new_errors += len(dciodvfy_errors(path) - dciodvfy_errors(source))
        a, b = dcmread(source), dcmread(path)
        if "PixelData" in a and ("PixelData" not in b or a.PixelData != b.PixelData):
            pixels_same = False
    released_burned_in = sorted(p.name for p in planted.quarantined if p.name in by_source)
    consistent = False
    sr = by_source.get("SMITHERSON_SR.dcm")
    cts = [by_source.get(f"SMITHERSON_CT_{n}.dcm") for n in (1, 2, 3)]
    if sr and all(cts):
        try:
            ct_uids = [str(dcmread(p).SOPInstanceUID) for p in cts if p]
            sr_ds = dcmread(sr)
            refs = [
                str(r.ReferencedSOPInstanceUID)
                for r in sr_ds.CurrentRequestedProcedureEvidenceSequence[0]
                .ReferencedSeriesSequence[0]
                .ReferencedSOPSequence
            ]
            image_ref = str(dcmread(cts[1]).ReferencedImageSequence[0].ReferencedSOPInstanceUID)  # type: ignore[arg-type]
            consistent = refs == ct_uids and image_ref == ct_uids[0]
        except (AttributeError, IndexError, KeyError):
            consistent = False
    return {
        "outputs": len(by_source),
        "identifiers_left": sorted(left),
        "where_left": sorted(places),
        "original_uids_left": sorted(uids_left),
        "references_consistent": consistent,
        "pixel_data_identical": pixels_same,
        "burned_in_released": released_burned_in,
        "new_dciodvfy_errors": new_errors,
    }


def _run_chunk(tool: str, files: list[Path], out: Path) -> None:
    (run_floor if tool == FLOOR else TOOLS[tool])(files, out)


def speed(tool: str, sources: list[Path], work: Path, copies: int, processes: int = 1) -> float:
    """Files per second on ``copies`` copies of ``sources``: one core, or ``processes`` at once, each on its
    share of the files (the key and the tools are the same in every process)."""
    corpus = work / f"speed-in-{processes}"
    corpus.mkdir()
    files = []
    for n in range(copies):
        for source in sources:
            target = corpus / f"{n}-{source.name}"
            shutil.copy(source, target)
            files.append(target)
    own_uids(files, copies)
    outs = [work / f"speed-out-{processes}-{n}" for n in range(processes)]
    for out in outs:
        out.mkdir()
    shares = [files[n::processes] for n in range(processes)]
    os.sync()  # the pages the runs before left dirty are not written back during this one
    started = time.perf_counter()
    if processes == 1:
        _run_chunk(tool, files, outs[0])
    else:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_run_chunk, [tool] * processes, shares, outs))
    elapsed = time.perf_counter() - started
    shutil.rmtree(corpus)
    for out in outs:
        shutil.rmtree(out)
    return len(files) / elapsed


def own_uids(files: list[Path], copies: int) -> None:
    """Each copy of the corpus made a study of its own (new Study, Series and SOP Instance UIDs), as the
    instances of a real corpus are: otherwise every copy would be written over the one before."""
    per_copy = len(files) // copies
    for n in range(copies):
        renamed: dict[str, str] = {}
        for path in files[n * per_copy : (n + 1) * per_copy]:
            ds = dcmread(path)
            for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                if keyword in ds:
                    old = str(ds.data_element(keyword).value)
                    setattr(ds, keyword, renamed.setdefault(old, generate_uid()))
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(path)


#: The tools of the speed table, beside the floor.
SPEED_TOOLS = (FLOOR, "airflow-dicomweb", "dicognito")


def speed_table(corpora: dict[str, list[Path]], work: Path, copies: int, rounds: int) -> dict:
    """Files per second of each tool on each corpus, one core and all cores: ``rounds`` rounds, the tools
    interleaved (their order alternating each round), medians. The machine is shared: one run each would
    compare the noise."""
    cores = os.cpu_count() or 1
    runs: dict[str, dict[str, dict[str, list[float]]]] = {
        corpus: {tool: {"one_core": [], "all_cores": []} for tool in SPEED_TOOLS} for corpus in corpora
    }
    for round_ in range(rounds):
        order = SPEED_TOOLS if round_ % 2 == 0 else tuple(reversed(SPEED_TOOLS))
        for corpus, sources in corpora.items():
            for tool in order:
                for mode, processes in (("one_core", 1), ("all_cores", cores)):
                    tool_work = work / f"speed-{round_}-{corpus}-{tool}-{mode}".replace(" ", "_")
                    tool_work.mkdir()
                    runs[corpus][tool][mode].append(speed(tool, sources, tool_work, copies, processes))
                    shutil.rmtree(tool_work)
    return {
        corpus: {
            tool: {mode: round(statistics.median(values), 1) for mode, values in modes.items()}
            | {"runs": modes}
            for tool, modes in by_tool.items()
        }
        for corpus, by_tool in runs.items()
    }


#: Real files of pydicom's test data (scanners' and vendors' own exports), each with the identity it carries.
REAL_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "JPEG2000.dcm",
    "emri_small.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "liver.dcm",
)


def real_identity(ds) -> set[str]:
    """The identifying values a real file carries, whole: every person's name, the patient's IDs and birth
    date, the accession number, the institution, the station, the device serial (at least 4 characters)."""
    found: set[str] = set()
    for elem in ds.iterall():
        if elem.tag.is_private or elem.VR == "SQ":
            continue
        if elem.VR == "PN" or elem.keyword in (
            "PatientID",
            "OtherPatientIDs",
            "InstitutionName",
            "InstitutionAddress",
            "StationName",
            "DeviceSerialNumber",
            "AccessionNumber",
            "PatientBirthDate",
        ):
            for value in elem.value if elem.VM > 1 else [elem.value]:
                text = str(value).strip()
                if len(text) >= 4:
                    found.add(text)
    return found


def attribute_bytes(path: Path) -> bytes:
    """An output's bytes without its pixel data (which holds no text, and whose random bytes would match)."""
    ds = dcmread(path, force=True)
    for tag in (0x7FE00008, 0x7FE00009, 0x7FE00010):
        if tag in ds:
            del ds[tag]
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return path.read_bytes()[:128] + buffer.getvalue()


def judge_real(work: Path) -> dict[str, dict]:
    """Each tool on the real files: which of their identifying values it leaves, whole, outside pixel data."""
    from pydicom.data import get_testdata_file

    folder = work / "real"
    folder.mkdir()
    sources = []
    for name in REAL_FILES:
        path = get_testdata_file(name)
        if path:
            shutil.copy(path, folder / name)
            sources.append(folder / name)
    identity = {p.name: real_identity(dcmread(p, force=True)) for p in sources}
    results: dict[str, dict] = {"identity_values": {"total": sum(len(v) for v in identity.values())}}
    for tool, run in TOOLS.items():
        out = work / f"real-{tool}"
        out.mkdir()
        try:
            run(sources, out)
        except Exception as exc:
            results[tool] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        written = [p for p in out.rglob("*") if p.is_file()]
        blob = b"\n".join(attribute_bytes(p) for p in written)
        left = sorted(
            {
                v
                for values in identity.values()
                for v in values
                if re.search(rb"(?<![A-Za-z0-9_])" + re.escape(v.encode()) + rb"(?![A-Za-z0-9_])", blob)
            }
        )
        results[tool] = {"files_written": len(written), "identity_values_left": left}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--copies",
        type=int,
        default=120,
        help="copies of each corpus for the speed run (120: runs of a few seconds)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the speed table (median; 3)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "deidentify-compare.json"))
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        planted = make_planted_study(work / "in")
        for tool, run in TOOLS.items():
            out = work / tool
            out.mkdir()
            try:
                run(list(planted.files), out)
            except Exception as exc:  # a tool that cannot run on the corpus is reported as such
                results[tool] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                continue
            results[tool] = judge(tool, planted, out)
            tool_work = work / f"{tool}-speed"
            tool_work.mkdir()
            results[tool]["files_per_second"] = round(
                speed(tool, list(planted.released), tool_work, args.copies), 1
            )
        cores = os.cpu_count() or 1
        real_size = make_series(work / "real-size", 5, rows=512, columns=512)  # 16-bit CT, ~513 KB a file
        corpora = {SMALL: list(planted.released), REAL_SIZE: real_size}
        speeds = speed_table(corpora, work, args.copies, args.rounds)
        real = judge_real(work)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"planted": PLANTED, "results": results, "real_files": real, "speed": speeds, "cores": cores},
            indent=1,
        )
        + "\n"
    )
    print(
        f"| tool | identifiers left (of {len(PLANTED)}) | where | original UIDs left | references consistent |"
        " pixel data identical | burned-in released | new dciodvfy errors | files/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for tool, r in results.items():
        if "error" in r:
            print(f"| {tool} | error: {r['error']} | | | | | | | |")
            continue
        print(
            f"| {tool} | {len(r['identifiers_left'])}: {', '.join(r['identifiers_left']) or '-'} | "
            f"{', '.join(r['where_left']) or '-'} | "
            f"{len(r['original_uids_left'])} | {'yes' if r['references_consistent'] else 'no'} | "
            f"{'yes' if r['pixel_data_identical'] else 'no'} | {', '.join(r['burned_in_released']) or 'none'} | "
            f"{r['new_dciodvfy_errors']} | {r['files_per_second']} |"
        )

    print(f"\nSpeed, files/s, one core and all {cores} cores ({args.rounds} rounds interleaved, medians):")
    print(
        "| corpus | tool | one core | all cores | one core vs dicognito | one core vs the floor | all cores vs the floor |"
    )
    print("|---|---|---|---|---|---|---|")
    for corpus, by_tool in speeds.items():
        for tool, row in by_tool.items():
            print(
                f"| {corpus} | {tool} | {row['one_core']} | {row['all_cores']} | "
                f"{row['one_core'] / by_tool['dicognito']['one_core']:.2f}x | "
                f"{row['one_core'] / by_tool[FLOOR]['one_core']:.2f}x | "
                f"{row['all_cores'] / by_tool[FLOOR]['all_cores']:.2f}x |"
            )

    total = real["identity_values"]["total"]
    print(f"\nReal files ({', '.join(REAL_FILES)}): identifying values left, of {total}")
    print("| tool | files written | values left |")
    print("|---|---|---|")
    for tool in TOOLS:
        r = real[tool]
        if "error" in r:
            print(f"| {tool} | error: {r['error']} | |")
        else:
            print(
                f"| {tool} | {r['files_written']} | {len(r['identity_values_left'])}: {', '.join(r['identity_values_left']) or '-'} |"
            )


if __name__ == "__main__":
    main()
