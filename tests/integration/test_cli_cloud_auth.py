"""The command line reaches the clouds a connection can: Azure's DICOM service through azure-identity and AWS
HealthImaging through botocore, each with its secrets in the library's own environment (never an argument),
against the emulators of their documented contracts."""

from __future__ import annotations

from pydicom.uid import generate_uid

from tests.dicom_factory import make_series
from tests.emulators import healthimaging_emulator as hi
from tests.integration.test_azure import azure  # noqa: F401 (a fixture)
from tests.integration.test_cli import dicomweb
from tests.integration.test_healthimaging import healthimaging  # noqa: F401 (a fixture)


def test_azure_with_default_azure_credential(azure, tmp_path):  # noqa: F811
    study = generate_uid()
    make_series(tmp_path / "in", 2, study_uid=study, rows=16, columns=16)
    base = [
        "--auth-type", "azure", "--tenant-id", "00000000-0000-0000-0000-00000000abcd", "--server", "azure",
        "--retries", "1", azure.dicom.dicomweb_url,
    ]  # fmt: skip
    code, out, err = dicomweb(*base, "store", str(tmp_path / "in"))
    assert code == 0, err
    assert "2 stored" in out
    code, out, err = dicomweb(*base, "search", "studies", "--json")
    assert code == 0 and study in out, err
    assert azure.token_requests and all(a.startswith("Bearer ") for a in azure.authorizations)
    for token in azure.tokens:
        assert token not in out + err


def test_aws_healthimaging_with_botocores_chain(healthimaging, tmp_path):  # noqa: F811
    study = generate_uid()
    make_series(tmp_path / "in", 2, study_uid=study, rows=16, columns=16)
    base = [
        "--auth-type", "aws", "--region", hi.REGION, "--server", "healthimaging", "--retries", "0",
        healthimaging.dicomweb_url,
    ]  # fmt: skip
    code, out, err = dicomweb(*base, "store", str(tmp_path / "in"))
    assert code == 0, err
    code, out, err = dicomweb(*base, "search", "instances", "--study", study, "--json")
    assert code == 0 and out.count("00080018") == 2, err
    assert healthimaging.refused == [] and healthimaging.verified > 2
    assert hi.SECRET_KEY not in out + err


def test_cloud_auth_takes_no_user_and_region_needs_aws():
    code, _, err = dicomweb(
        "--auth-type", "azure", "--user", "me", "https://ws.example/v2", "search", "studies"
    )
    assert code == 2 and "not --user" in err
    code, _, err = dicomweb("--region", "eu-west-1", "https://pacs.example/dicom-web", "search", "studies")
    assert code == 2 and "--region goes with --auth-type aws" in err
    code, _, err = dicomweb(
        "--auth-type", "azure", "--region", "eu-west-1", "https://ws.example/v2", "search", "studies"
    )  # fmt: skip
    assert code == 2 and "--region goes with --auth-type aws" in err
    code, _, err = dicomweb(
        "--auth-type", "aws", "--tenant-id", "t", "https://ws.example/v2", "search", "studies"
    )  # fmt: skip
    assert code == 2 and "--tenant-id goes with --auth-type azure" in err
