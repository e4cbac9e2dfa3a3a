"""One search through a Google connection, with whichever google-auth comes first on ``sys.path``; prints, as
JSON, the google-auth version, every host name resolved, and the warnings logged (test_google_outbound.py
runs it with older google-auth releases put ahead of the virtualenv's).

Usage: python tests/fakes/google_auth_probe.py SECONDS, with the connection's JSON in $PROBE_CONNECTION.
"""

import io
import json
import logging
import os
import socket
import sys
import time

LOOKUP_HOST = "iamcredentials.googleapis.com"
names: list[str] = []
_real_getaddrinfo = socket.getaddrinfo


def _recording(host, *args, **kwargs):
    names.append(str(host))
    return _real_getaddrinfo(host, *args, **kwargs)


def main() -> None:
    socket.getaddrinfo = _recording
    logged = io.StringIO()
    logging.basicConfig(stream=logged, level=logging.WARNING)
    from google.auth import version

    from airflow_dicomweb.core.client import DicomWebClient
    from airflow_dicomweb.core.settings import DicomWebSettings

    connection = json.loads(os.environ["PROBE_CONNECTION"])
    settings = DicomWebSettings.from_connection_fields(
        host=connection.get("host"), login=None, password=None, extra=connection["extra"]
    )
    with DicomWebClient(settings) as client:
        client.search_for_studies()
        deadline = time.monotonic() + float(sys.argv[1])
        while LOOKUP_HOST not in names and time.monotonic() < deadline:
            time.sleep(0.1)  # google-auth looks it up in a background thread
    print(json.dumps({"version": version.__version__, "resolved": names, "log": logged.getvalue()}))


if __name__ == "__main__":
    main()
