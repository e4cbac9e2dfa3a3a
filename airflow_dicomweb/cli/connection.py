"""Settings from the command line: a service root URL, ``--google P/L/D/S`` or ``--conn-id``; credentials
from the environment, Application Default Credentials or a key file, never required on the command line."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.settings import DicomWebSettings

ENV_URL = "DICOMWEB_URL"
ENV_PASSWORD = "DICOMWEB_PASSWORD"
ENV_TOKEN = "DICOMWEB_TOKEN"
#: The destination's secrets, for ``copy``.
ENV_TO_PASSWORD = "DICOMWEB_TO_PASSWORD"
ENV_TO_TOKEN = "DICOMWEB_TO_TOKEN"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "connection",
        "The service is the positional URL (or $DICOMWEB_URL), --google, or --conn-id. The password is read "
        f"from ${ENV_PASSWORD} (or asked for on a terminal), a bearer token from ${ENV_TOKEN}; Google uses "
        "Application Default Credentials or --key-file.",
    )
    group.add_argument("--google", metavar="PROJECT/LOCATION/DATASET/STORE", help="a Google DICOM store")
    group.add_argument("--conn-id", help="an Airflow connection (needs Airflow installed and configured)")
    group.add_argument("--user", help="login for basic authentication (password from $DICOMWEB_PASSWORD)")
    group.add_argument("--key-file", help="Google service-account key file (default: ADC)")
    group.add_argument("--api-root", help="Google: a private endpoint instead of healthcare.googleapis.com")
    group.add_argument(
        "--auth-type",
        choices=["azure", "aws"],
        help="azure: an Entra ID token from azure-identity's DefaultAzureCredential (its environment: "
        "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; a managed identity; the Azure CLI). aws: SigV4 "
        "with botocore's credential chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, ~/.aws, an instance role)",
    )
    group.add_argument("--region", help="aws: the HealthImaging data store's region (default: from the host)")
    group.add_argument(
        "--tenant-id",
        help="azure: the Entra ID tenant to ask for tokens (a service principal's secret stays in "
        "AZURE_CLIENT_SECRET)",
    )
    group.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra request header (repeatable); put no secret here, use the environment",
    )
    group.add_argument("--delete-api", choices=["dicomweb", "orthanc"], help="how deletes are made")
    group.add_argument(
        "--server", metavar="NAME", help="the server profile (orthanc, tiny-pacs, ...; default: auto)"
    )
    tls = parser.add_argument_group("TLS, timeouts and retries (as the connection's extras)")
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    tls.add_argument("--ca-bundle", help="verify the server with this CA bundle")
    tls.add_argument(
        "--request-timeout", metavar="CONNECT,READ", help="seconds to connect and between bytes (10,300)"
    )
    tls.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help=f"retries of a failed request (default {defaults.MAX_RETRIES})",
    )
    tls.add_argument("--retry-max-elapsed", type=float, metavar="S", help="give up retrying after S seconds")
    tls.add_argument("--max-response-mib", type=int, metavar="MIB", help="cap on a response held in memory")


def _extras(args: argparse.Namespace) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if args.insecure:
        extra["verify"] = False
    elif args.ca_bundle:
        extra["verify"] = args.ca_bundle
    if args.request_timeout:
        parts = [p for p in args.request_timeout.split(",") if p.strip()]
        try:
            extra["timeout"] = [float(p) for p in parts] if len(parts) == 2 else float(parts[0])
        except (ValueError, IndexError):
            raise DicomWebConfigError(
                f"--request-timeout takes SECONDS or CONNECT,READ, not {args.request_timeout!r}"
            ) from None
    if args.retries is not None:
        extra["max_retries"] = args.retries
    if args.retry_max_elapsed is not None:
        extra["retry_max_elapsed"] = args.retry_max_elapsed
    if args.max_response_mib is not None:
        extra["max_response_mib"] = args.max_response_mib
    if args.delete_api:
        extra["delete_api"] = args.delete_api
    if args.server:
        extra["server"] = args.server
    headers = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise DicomWebConfigError(f"--header takes 'Name: value', not {header.split(':')[0]!r}...")
        headers[name.strip()] = value.strip()
    if headers:
        extra["headers"] = headers
    return extra


def _password(login: str, variable: str = ENV_PASSWORD, option: str = "--user") -> str:
    password = os.environ.get(variable)
    if password is not None:
        return password
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {login}: ")
    raise DicomWebConfigError(f"{option} {login} needs a password: set ${variable}")


def destination_settings(args: argparse.Namespace, url: str | None) -> DicomWebSettings:
    """The settings of a copy's destination: ``url`` (or ``--to-conn-id``), with ``--to-user`` and
    ``$DICOMWEB_TO_PASSWORD``, or ``$DICOMWEB_TO_TOKEN``; TLS, timeouts and retries as for the source. No
    ``--header`` goes there: it may carry the source's secrets."""
    extra = {k: v for k, v in _extras(args).items() if k not in ("headers", "delete_api", "server")}
    if args.to_server:
        extra["server"] = args.to_server
    if args.to_conn_id:
        if url is not None:
            raise DicomWebConfigError("name the destination once: DEST or --to-conn-id")
        return _from_airflow(args.to_conn_id, extra)
    token = os.environ.get(ENV_TO_TOKEN)
    if args.to_user:
        password = _password(args.to_user, ENV_TO_PASSWORD, "--to-user")
        return DicomWebSettings.from_connection_fields(
            host=url, login=args.to_user, password=password, extra=extra
        )
    if token:
        extra["auth_type"] = "bearer"
        return DicomWebSettings.from_connection_fields(host=url, password=token, extra=extra)
    return DicomWebSettings.from_connection_fields(host=url, extra=extra)


def settings_from_args(args: argparse.Namespace) -> DicomWebSettings:
    """The core settings the command line describes; DicomWebConfigError if it describes none or several."""
    url = args.url or (None if (args.google or args.conn_id) else os.environ.get(ENV_URL))
    chosen = [
        name
        for name, value in (("URL", url), ("--google", args.google), ("--conn-id", args.conn_id))
        if value
    ]
    if len(chosen) != 1:
        raise DicomWebConfigError(
            "name the service once: a service root URL (or $DICOMWEB_URL), --google PROJECT/LOCATION/DATASET/"
            f"STORE, or --conn-id ID{f' (got {chr(32).join(chosen)})' if chosen else ''}"
        )
    extra = _extras(args)
    if args.conn_id:
        return _from_airflow(args.conn_id, extra)
    if args.google:
        parts = args.google.strip("/").split("/")
        if len(parts) != 4 or not all(parts):
            raise DicomWebConfigError(f"--google takes PROJECT/LOCATION/DATASET/STORE, not {args.google!r}")
        extra.update(zip(("project", "location", "dataset", "dicom_store"), parts, strict=True))
        extra["auth_type"] = "google"
        if args.key_file:
            extra["key_path"] = args.key_file
        if args.api_root:
            extra["api_root"] = args.api_root
        return DicomWebSettings.from_connection_fields(host=None, extra=extra)
    if args.auth_type:
        if args.user:
            raise DicomWebConfigError(
                f"--auth-type {args.auth_type} takes its credentials from the cloud library's own environment "
                "and files, not --user"
            )
        extra["auth_type"] = args.auth_type
        if args.region:
            if args.auth_type != "aws":
                raise DicomWebConfigError("--region goes with --auth-type aws")
            extra["region_name"] = args.region
        if args.tenant_id:
            if args.auth_type != "azure":
                raise DicomWebConfigError("--tenant-id goes with --auth-type azure")
            extra["tenant_id"] = args.tenant_id
        return DicomWebSettings.from_connection_fields(host=url, extra=extra)
    if args.region:
        raise DicomWebConfigError("--region goes with --auth-type aws")
    if args.tenant_id:
        raise DicomWebConfigError("--tenant-id goes with --auth-type azure")
    token = os.environ.get(ENV_TOKEN)
    if token and not args.user:
        extra["auth_type"] = "bearer"
        return DicomWebSettings.from_connection_fields(host=url, password=token, extra=extra)
    if args.user:
        return DicomWebSettings.from_connection_fields(
            host=url, login=args.user, password=_password(args.user), extra=extra
        )
    return DicomWebSettings.from_connection_fields(host=url, extra=extra)


def _from_airflow(conn_id: str, extra: dict[str, Any]) -> DicomWebSettings:
    try:
        from airflow.sdk import BaseHook

        from airflow_dicomweb.hooks.dicomweb import settings_from_connection
    except ImportError:
        raise DicomWebConfigError(
            "--conn-id reads an Airflow connection, and Airflow is not installed here: give the service "
            "root URL or --google instead"
        ) from None
    return settings_from_connection(BaseHook.get_connection(conn_id), extra)
