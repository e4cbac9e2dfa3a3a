"""No secret in any log line or exception text, with every logger at DEBUG; TLS verified by default, and a
custom CA bundle from the connection (a local TLS endpoint with certificates the test makes)."""

import datetime as dt
import ipaddress
import json
import logging
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebError
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from tests.connections import FAST_RETRY_EXTRAS, connection_json, google_connection
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer
from tests.fakes.fault_proxy import FaultProxy


@pytest.fixture
def debug_logs(caplog):
    """Every logger at DEBUG for the test, and each back to its own level afterwards."""
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    previous = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, level in previous:
        logger.setLevel(level)


def secret_lines(value: str) -> list[str]:
    """The secret, and each long line of it (a PEM key is logged line by line if at all)."""
    return [value] + [line for line in value.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line]


def assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    blob = "\n".join(texts)
    for secret in secrets:
        for piece in secret_lines(secret):
            assert piece not in blob, f"a secret leaked: {piece[:6]}..."


def test_basic_bearer_and_google_runs_leak_nothing(
    debug_logs, capfd, orthanc, clean_orthanc, google, monkeypatch, tmp_path
):
    errors: list[str] = []
    secrets = [orthanc.password]

    # Basic: a good run and a refused one
    monkeypatch.setenv(
        "AIRFLOW_CONN_S_BASIC",
        connection_json(
            orthanc.dicomweb_url, login=orthanc.username, password=orthanc.password, extra=FAST_RETRY_EXTRAS
        ),
    )
    basic = DicomWebHook("s_basic")
    assert basic.store_instances(make_series(tmp_path / "a", 2)).ok
    basic.search_for_studies({"PatientName": "TEST*"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_S_WRONG",
        connection_json(orthanc.dicomweb_url, login=orthanc.username, password="wrong-Pa55word-xyz"),
    )
    secrets.append("wrong-Pa55word-xyz")
    try:
        DicomWebHook("s_wrong").search_for_studies()
    except DicomWebError as exc:
        errors.append(str(exc))
    errors.append(DicomWebHook("s_wrong").test_connection()[1])

    # Bearer: against a server that echoes what it got in its error body
    token = "bearer-token-abcdef0123456789"
    secrets.append(token)
    with FakeServer(
        lambda r: (403, {"Content-Type": "text/plain"}, f"denied for {r.headers}".encode())
    ) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_S_BEARER",
            connection_json(server.url, password=token, extra={"auth_type": "bearer"}),
        )
        try:
            DicomWebHook("s_bearer").search_for_studies()
        except DicomWebError as exc:
            errors.append(str(exc))
        assert server.requests[0].headers["Authorization"] == f"Bearer {token}"  # it was sent, to its server

    # Google: key from the connection, a token refresh on 401, a failed operation
    key_connection = google_connection(google)
    key = json.loads(json.loads(key_connection)["extra"]["keyfile_dict"])
    secrets += [key["private_key"], key["private_key_id"]]
    monkeypatch.setenv("AIRFLOW_CONN_S_GOOGLE", key_connection)
    hook = DicomWebHook("s_google")
    result = hook.store_instances(make_series(tmp_path / "g", 2))
    google.expire_tokens()
    hook.search_for_studies()
    google.fail_next_operation = {"code": 7, "message": "permission denied on dataset"}
    try:
        hook.wait_for_operation(
            hook.delete_study(result.study_instance_uids[0]), timeout=10, poll_interval=0.05
        )
    except DicomWebError as exc:
        errors.append(str(exc))
    secrets += list(google.tokens)  # every access token the emulator issued

    out, err = capfd.readouterr()
    texts = [debug_logs.text, out, err, *errors]
    assert len(debug_logs.records) > 20  # DEBUG logging was really on
    assert (
        any("401" in e for e in errors)
        and any("403" in e for e in errors)
        and any("code 7" in e for e in errors)
    )
    assert_no_secret(texts, secrets)


def make_certificates(folder):
    """A CA, and a certificate for 127.0.0.1 signed by it; returns (ca.pem, server cert, server key)."""
    now = dt.datetime.now(dt.UTC)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    ca_key, server_key = key(), key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airflow-dicomweb test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


def test_tls_is_verified_by_default_and_a_ca_bundle_from_the_connection_works(
    orthanc, clean_orthanc, monkeypatch, tmp_path
):
    ca, cert, key = make_certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FaultProxy(orthanc.port, tls=context) as tls:  # a TLS front on the real Orthanc, no faults
        assert tls.url.startswith("https://")

        def hook(name, **extra):
            monkeypatch.setenv(
                f"AIRFLOW_CONN_{name.upper()}",
                connection_json(
                    f"{tls.url}/dicom-web",
                    login=orthanc.username,
                    password=orthanc.password,
                    extra={**FAST_RETRY_EXTRAS, "max_retries": 0, **extra},
                ),
            )
            return DicomWebHook(name)

        with pytest.raises(DicomWebConnectionError, match=r"TLS error.*certificate verify failed"):
            hook("tls_default").search_for_studies()
        assert hook("tls_ca", verify=str(ca)).search_for_studies() == []
        assert hook("tls_off", verify="false").search_for_studies() == []
        other_ca, _, _ = make_certificates(
            tmp_path / "other" if (tmp_path / "other").mkdir() is None else tmp_path
        )
        with pytest.raises(DicomWebConnectionError, match="certificate verify failed"):
            hook("tls_wrong_ca", verify=str(other_ca)).search_for_studies()
