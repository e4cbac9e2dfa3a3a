"""Files the stack's init step writes once: secrets, Orthanc's credentials, the DICOMweb connection, sample data.

    python init_files.py secrets DIR            fernet_key, jwt_secret, api_secret_key, admin_password and
                                                orthanc_password, generated unless they exist (mode 0440)
    python init_files.py orthanc SECRETS DIR    DIR/orthanc.json (this folder's) and DIR/credentials.json
    python init_files.py connection SECRETS OUT the dicomweb_default connection, for `airflow connections import`
    python init_files.py samples DATA           DICOM files in DATA/landing/samples, JPEGs + metadata in DATA/jpeg

Passwords given in the environment (``_AIRFLOW_WWW_USER_PASSWORD``, ``ORTHANC_PASSWORD``) are used instead of
generated ones. Values are written with a JSON encoder, so any character in a password is safe; ``$`` is
written as ``\\u0024`` because the Orthanc image runs ``envsubst`` over its configuration files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRETS = ("fernet_key", "jwt_secret", "api_secret_key", "admin_password", "orthanc_password")
FROM_ENVIRONMENT = {"admin_password": "_AIRFLOW_WWW_USER_PASSWORD", "orthanc_password": "ORTHANC_PASSWORD"}
ORTHANC_USER = "airflow"


def owner() -> tuple[int, int]:
    """Airflow's containers run as AIRFLOW_UID with group 0."""
    return int(os.environ.get("AIRFLOW_UID") or os.getuid()), 0


def write_private(path: Path, text: str, mode: int = 0o440) -> None:
    path.write_text(text)
    if os.getuid() == 0:
        os.chown(path, *owner())
    path.chmod(mode)


def generate(name: str) -> str:
    if name == "fernet_key":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    if name.endswith("password"):
        return secrets.token_urlsafe(18)
    return secrets.token_urlsafe(48)


def make_secrets(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SECRETS:
        path = folder / name
        given = os.environ.get(FROM_ENVIRONMENT.get(name, ""), "")
        if given:
            if not path.exists() or path.read_text() != given:
                path.unlink(missing_ok=True)
                write_private(path, given)
        elif not path.exists():
            write_private(path, generate(name))
    print(f"secrets in {folder}: {', '.join(SECRETS)}")


def dollar_safe(text: str) -> str:
    return text.replace("$", "\\u0024")


def make_orthanc_config(secret_folder: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "orthanc.json", folder / "orthanc.json")
    password = (secret_folder / "orthanc_password").read_text()
    users = json.dumps({"RegisteredUsers": {ORTHANC_USER: password}})
    write_private(folder / "credentials.json", dollar_safe(users), mode=0o444)
    print(f"Orthanc configuration in {folder}")


def make_connection(secret_folder: Path, out: Path) -> None:
    connection = {
        "dicomweb_default": {
            "conn_type": "dicomweb",
            "host": os.environ.get("DICOMWEB_ORTHANC_URL", "http://orthanc:8042/dicom-web"),
            "login": ORTHANC_USER,
            "password": (secret_folder / "orthanc_password").read_text(),
            "extra": {"caret_as_wildcard": True, "delete_api": "orthanc"},
        }
    }
    write_private(out, json.dumps(connection), mode=0o400)


def make_samples(data: Path) -> None:
    """pydicom's bundled sample instances for the ingest DAG; JPEGs taken from its bundled JPEG Baseline
    instances, with a metadata template, for the JPEG to DICOM DAG. Existing files are left alone."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.encaps import generate_frames
    from pydicom.uid import generate_uid

    landing = data / "landing" / "samples"
    if not landing.exists():
        landing.mkdir(parents=True)
        for name in ("CT_small.dcm", "MR_small.dcm"):
            shutil.copyfile(get_testdata_file(name), landing / name)
    jpeg = data / "jpeg"
    if not (jpeg / "metadata.json").exists():
        jpeg.mkdir(parents=True, exist_ok=True)
        for n, name in enumerate(
            ("SC_jpeg_no_color_transform.dcm", "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm")
        ):
            frame = next(generate_frames(dcmread(get_testdata_file(name)).PixelData, number_of_frames=1))
            (jpeg / f"sample{n}.jpg").write_bytes(frame)
        metadata = {
            "0020000D": {"vr": "UI", "Value": [generate_uid()]},
            "0020000E": {"vr": "UI", "Value": [generate_uid()]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "SAMPLE^PHOTO"}]},
            "00100020": {"vr": "LO", "Value": ["SAMPLE-1"]},
            "00080060": {"vr": "CS", "Value": ["XC"]},
        }
        (jpeg / "metadata.json").write_text(json.dumps(metadata, indent=1))
    if os.getuid() == 0:
        for path in [data, *data.rglob("*")]:
            os.chown(path, *owner())
    print(f"sample data in {data}")


def main(argv: list[str]) -> int:
    command, *paths = argv
    actions = {
        "secrets": lambda: make_secrets(Path(paths[0])),
        "orthanc": lambda: make_orthanc_config(Path(paths[0]), Path(paths[1])),
        "connection": lambda: make_connection(Path(paths[0]), Path(paths[1])),
        "samples": lambda: make_samples(Path(paths[0])),
    }
    if command not in actions:
        print(__doc__, file=sys.stderr)
        return 2
    actions[command]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
