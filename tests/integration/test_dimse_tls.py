"""DIMSE over TLS, as a ``dimse`` connection sets it up (``tls_ca``, ``tls_cert``, ``tls_key``): against a peer made
here with pynetdicom that requires a client certificate, C-ECHO and C-STORE work with the connection's CA and
certificate; without the certificate, with the wrong CA, or in plain TCP, nothing is exchanged."""

from __future__ import annotations

import ssl

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from airflow_dicomweb.core.dimse.connection import peer_from_connection_fields
from airflow_dicomweb.core.dimse.echo import echo
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.errors import DicomWebConfigError, DimseAssociationError
from tests.dicom_factory import make_series
from tests.integration.test_secrets_and_tls import make_certificates
from tests.servers.orthanc_server import free_port


@pytest.fixture
def tls_peer(tmp_path):
    ca, cert, key = make_certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client shows a certificate of this CA
    context.load_verify_locations(ca)
    received = []
    ae = AE(ae_title="TLSPEER")
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian)
    port = free_port()

    def on_store(event):
        received.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    server = ae.start_server(
        ("127.0.0.1", port), block=False, ssl_context=context, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    yield port, {"ca": str(ca), "cert": str(cert), "key": str(key)}, received
    server.shutdown()


def connection(port, **tls):
    extra = {"called_aet": "TLSPEER", "acse_timeout": 5, **{f"tls_{k}": v for k, v in tls.items()}}
    return peer_from_connection_fields("127.0.0.1", port, extra)


def test_mutual_tls_from_the_connection(tls_peer, tmp_path):
    port, files, received = tls_peer
    peer = connection(port, **files)
    echo(peer)
    result = store_files(peer, make_series(tmp_path / "in", 2, rows=8, columns=8))
    assert len(result.stored) == 2 and len(received) == 2

    for wrong in (
        connection(port, ca=files["ca"]),  # no client certificate
        connection(port),  # plain TCP to a TLS port
    ):
        with pytest.raises(DimseAssociationError, match=r"TLSPEER@127\.0\.0\.1"):
            echo(wrong)
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_certificates(tmp_path / "other")
    with pytest.raises(DimseAssociationError, match=r"TLSPEER@127\.0\.0\.1"):
        echo(connection(port, ca=str(other_ca), cert=files["cert"], key=files["key"]))
    with pytest.raises(DicomWebConfigError, match="could not be loaded"):
        connection(port, ca=files["ca"], cert=str(tmp_path / "missing.pem"))
    assert len(received) == 2
