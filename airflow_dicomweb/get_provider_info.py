"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from airflow_dicomweb import __version__
from airflow_dicomweb.core import auth, defaults, servers


def _field(label: str, description: str, kind: str = "string", **schema: object) -> dict:
    """One field of the connection form. Optional values may be left empty (null), but no select lists
    ``null`` as a choice: selects have a default instead."""
    types = kind if "enum" in schema else [kind, "null"]
    return {"label": label, "description": description, "schema": {"type": types, **schema}}


#: The connection form: every extra the core reads (see DicomWebSettings.from_connection_fields).
CONNECTION_FIELDS = {
    "auth_type": _field(
        "Authentication",
        "auto (basic when a login is set, else none), none, basic (login/password), bearer (the token in "
        "the password), google (a service account, or Application Default Credentials) azure (an Entra ID "
        "token: a service principal, or DefaultAzureCredential) or aws (SigV4 for HealthImaging, botocore's "
        "credential chain).",
        enum=[defaults.AUTH_TYPE, *auth.names()],
        default=defaults.AUTH_TYPE,
    ),
    "server": _field(
        "Server",
        "What kind of DICOMweb server this is: auto (told from the URL where it can be: Google's DICOM "
        "stores, Azure's and HealthImaging's hosts; generic otherwise), generic, orthanc (deletes through its REST API, ^ sent as ?), google, "
        "static-wado (OHIF's: no study or series retrieve, limit and offset ignored) or tiny-pacs (its silent "
        "10,000 page cap and its duplicate answer known).",
        enum=[defaults.SERVER, *servers.names()],
        default=defaults.SERVER,
    ),
    "timeout": _field(
        "Timeout (seconds)",
        "Read timeout of each request; the connect timeout is at most 10 s.",
        "number",
        default=defaults.TIMEOUT[1],
    ),
    "verify": _field("Verify TLS", "true, false, or the path of a CA bundle.", default="true"),
    "headers": _field(
        "Extra headers",
        "A JSON object of extra request headers. Every value is treated as a secret.",
        format="json",
    ),
    "max_retries": _field(
        "Retries",
        "Retries of a failed request (connection errors, cut bodies, 408, 429, 5xx).",
        "integer",
        default=defaults.MAX_RETRIES,
    ),
    "retry_initial_wait": _field(
        "First retry wait (s)",
        "Backoff starts here and doubles.",
        "number",
        default=defaults.RETRY_INITIAL_WAIT,
    ),
    "retry_max_wait": _field(
        "Longest retry wait (s)",
        "The cap of one wait (Retry-After is honoured).",
        "number",
        default=defaults.RETRY_MAX_WAIT,
    ),
    "retry_max_elapsed": _field(
        "Retry budget (s)",
        "No retry starts after this many seconds.",
        "number",
        default=defaults.RETRY_MAX_ELAPSED,
    ),
    "pool_size": _field(
        "Connections per host", "Pooled keep-alive connections.", "integer", default=defaults.POOL_SIZE
    ),
    "max_response_mib": _field(
        "Largest response in memory (MiB)",
        "JSON, XML, rendered images, frames and bulk data held in memory are refused beyond this size once "
        "decoded. Files streamed to disk have no cap.",
        "integer",
        default=defaults.MAX_RESPONSE_MIB,
    ),
    "speed_limit": _field(
        "Speed floor (bytes/s)",
        "A body slower than this over a whole speed window is cut and retried; 0 turns it off.",
        "number",
        default=defaults.SPEED_LIMIT,
    ),
    "speed_time": _field(
        "Speed window (s)", "The window of the speed floor.", "number", default=defaults.SPEED_TIME
    ),
    "caret_as_wildcard": _field(
        "Send ^ as ? in searches",
        "For servers that do not percent-decode queries (Orthanc): person-name separators are sent as the "
        "one-character wildcard. Default: as the server profile says (true for orthanc).",
        "boolean",
    ),
    "delete_api": _field(
        "Delete through",
        "dicomweb (DICOMweb DELETE), orthanc (Orthanc's own REST API, for Orthanc's DICOMweb plugin, which "
        "has no DELETE) or dcm4chee (reject, then delete); auto: as the server profile says (orthanc for an "
        "Orthanc, else dicomweb).",
        enum=["auto", *defaults.DELETE_APIS],
        default="auto",
    ),
    "transfer_syntax_fallback": _field(
        "Fall back to the server's transfer syntax",
        "When a server cannot send the transfer syntax a retrieve asks for (406), take its default instead "
        "of failing.",
        "boolean",
        default=False,
    ),
    "orthanc_root": _field(
        "Orthanc REST root",
        "With delete_api orthanc: Orthanc's REST API; default: the service root without "
        "its last path segment.",
        format="url",
    ),
    "rejection_code": _field(
        "dcm4chee rejection code",
        "With delete_api dcm4chee: CodeValue^CodingSchemeDesignator of the rejection made before a delete.",
        default=defaults.REJECTION_CODE,
    ),
    "operations_root": _field(
        "Operations root",
        "Where long-running operations are polled, for servers other than Google.",
        format="url",
    ),
    "tenant_id": _field(
        "Azure tenant",
        "With auth_type azure and a login (the client id) and password (the client secret): the Entra ID tenant.",
    ),
    "region_name": _field(
        "AWS region",
        "With auth_type aws: the region of the HealthImaging data store; default: read from the host.",
    ),
    "aws_conn_id": _field(
        "AWS connection",
        "With auth_type aws: the Airflow AWS connection whose credentials sign the requests; "
        "default: botocore's credential chain.",
    ),
    "key_path": _field("Google key file path", "Path of a service-account JSON key (auth_type google)."),
    "keyfile_dict": _field(
        "Google key JSON", "The service-account JSON key itself (auth_type google).", format="password"
    ),
    "scope": _field("Google scopes", "Comma-separated OAuth scopes; default cloud-platform."),
    "impersonation_chain": _field(
        "Google impersonation chain", "A service account to impersonate, or a comma-separated chain."
    ),
    "iam_endpoint_override": _field(
        "Google IAM endpoint",
        "The full URL of generateAccessToken for impersonation (Private Service Connect, say).",
        format="url",
    ),
    "regional_access_boundary": _field(
        "Google regional access boundary lookup",
        "Whether google-auth's background call to iamcredentials.googleapis.com may go out. Default: not when "
        "a private API root or IAM endpoint is set (air-gapped and Private Service Connect setups), else yes. "
        "From google-auth 2.63 the call is made only when the worker sets "
        "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED=true.",
        "boolean",
    ),
    "project": _field("Google project", "With location, dataset and store: names the DICOM store."),
    "location": _field("Google location", "The store's region, e.g. us-central1."),
    "dataset": _field("Google dataset", "The store's dataset."),
    "dicom_store": _field("Google DICOM store", "The store's name."),
    "api_root": _field(
        "Google API root",
        "Default https://healthcare.googleapis.com; a private endpoint's URL otherwise.",
        format="url",
    ),
    "api_version": _field(
        "Google API version", "v1 or v1beta1.", enum=["v1", "v1beta1"], default=defaults.GOOGLE_API_VERSION
    ),
}


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-dicomweb",
        "name": "DICOMweb",
        "description": "Store (STOW-RS), search (QIDO-RS), retrieve (WADO-RS) and delete DICOM objects "
        "through DICOMweb: Google Cloud Healthcare API, Orthanc, dcm4chee, Azure DICOM service.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "DICOMweb",
                "external-doc-url": "https://www.dicomstandard.org/using/dicomweb",
                "tags": ["protocol"],
            }
        ],
        "hooks": [{"integration-name": "DICOMweb", "python-modules": ["airflow_dicomweb.hooks.dicomweb"]}],
        "operators": [
            {
                "integration-name": "DICOMweb",
                "python-modules": [
                    "airflow_dicomweb.operators.store",
                    "airflow_dicomweb.operators.store_jpeg",
                    "airflow_dicomweb.operators.search",
                    "airflow_dicomweb.operators.retrieve",
                    "airflow_dicomweb.operators.metadata",
                    "airflow_dicomweb.operators.rendered",
                    "airflow_dicomweb.operators.bulkdata",
                    "airflow_dicomweb.operators.delete",
                    "airflow_dicomweb.operators.google_store",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "DICOMweb",
                "python-modules": ["airflow_dicomweb.sensors.operation", "airflow_dicomweb.sensors.search"],
            }
        ],
        "triggers": [
            {
                "integration-name": "DICOMweb",
                "python-modules": [
                    "airflow_dicomweb.triggers.operation",
                    "airflow_dicomweb.triggers.search",
                    "airflow_dicomweb.triggers.study_arrival",
                ],
            }
        ],
        "extra-links": [
            "airflow_dicomweb.operators.google_store.DicomStoreLink",
            "airflow_dicomweb.operators.google_store.DicomStoreOperationLogsLink",
        ],
        "asset-uris": [
            {
                "schemes": ["dicomweb"],
                "handler": "airflow_dicomweb.assets.dicomweb.sanitize_uri",
                "factory": "airflow_dicomweb.assets.dicomweb.create_asset",
                "to_openlineage_converter": "airflow_dicomweb.assets.dicomweb.convert_asset_to_openlineage",
            }
        ],
        "connection-types": [
            {
                "connection-type": "dicomweb",
                "hook-class-name": "airflow_dicomweb.hooks.dicomweb.DicomWebHook",
                "hook-name": "DICOMweb",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Service root URL",
                        "login": "Username",
                        "password": "Password or token",
                    },
                    "placeholders": {
                        "host": "http://127.0.0.1:8042/dicom-web or https://healthcare.googleapis.com/v1/"
                        "projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb",
                        "login": "for HTTP Basic",
                        "password": "Basic password, or the bearer token",
                    },
                },
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
    }
