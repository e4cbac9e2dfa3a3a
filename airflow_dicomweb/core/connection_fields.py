"""The connection's extras, declared once: what each is called on the form, what it means, its type and its
default. The fields every connection has are here; each auth type declares its own in its module
(``AuthType.fields``), and each source of study arrivals its own (``ArrivalSource.fields``). :func:`table`
gathers them for the connection form (the provider info).
"""

from __future__ import annotations

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.connection_field import ConnectionField


def _common() -> tuple[ConnectionField, ...]:
    from airflow_dicomweb.core import auth, servers

    return (
        ConnectionField(
            "auth_type",
            "Authentication",
            f"{defaults.AUTH_TYPE} (basic when a login is set, else none), or: "
            + "; ".join(f"{name} ({auth.auth_type(name).summary})" for name in auth.names())
            + ".",
            choices=(defaults.AUTH_TYPE, *auth.names()),
            default=defaults.AUTH_TYPE,
        ),
        ConnectionField(
            "server",
            "Server",
            "What kind of DICOMweb server this is: auto (told from the URL where it can be: Google's DICOM "
            "stores, Azure's and HealthImaging's hosts; generic otherwise), generic, orthanc (deletes through "
            "its REST API, ^ sent as ?), google, static-wado (OHIF's: no study or series retrieve, limit and "
            "offset ignored) or tiny-pacs (its silent 10,000 page cap and its duplicate answer known).",
            choices=(defaults.SERVER, *servers.names()),
            default=defaults.SERVER,
        ),
        ConnectionField(
            "timeout",
            "Timeout (seconds)",
            "Read timeout of each request; the connect timeout is at most 10 s.",
            "number",
            default=defaults.TIMEOUT[1],
        ),
        ConnectionField("verify", "Verify TLS", "true, false, or the path of a CA bundle.", default="true"),
        ConnectionField(
            "headers",
            "Extra headers",
            "A JSON object of extra request headers. Every value is treated as a secret.",
            format="json",
        ),
        ConnectionField(
            "max_retries",
            "Retries",
            "Retries of a failed request (connection errors, cut bodies, 408, 429, 5xx).",
            "integer",
            default=defaults.MAX_RETRIES,
        ),
        ConnectionField(
            "retry_initial_wait",
            "First retry wait (s)",
            "Backoff starts here and doubles.",
            "number",
            default=defaults.RETRY_INITIAL_WAIT,
        ),
        ConnectionField(
            "retry_max_wait",
            "Longest retry wait (s)",
            "The cap of one wait (Retry-After is honoured).",
            "number",
            default=defaults.RETRY_MAX_WAIT,
        ),
        ConnectionField(
            "retry_max_elapsed",
            "Retry budget (s)",
            "No retry starts after this many seconds.",
            "number",
            default=defaults.RETRY_MAX_ELAPSED,
        ),
        ConnectionField(
            "pool_size",
            "Connections per host",
            "Pooled keep-alive connections.",
            "integer",
            default=defaults.POOL_SIZE,
        ),
        ConnectionField(
            "max_response_mib",
            "Largest response in memory (MiB)",
            "JSON, XML, rendered images, frames and bulk data held in memory are refused beyond this size "
            "once decoded. Files streamed to disk have no cap.",
            "integer",
            default=defaults.MAX_RESPONSE_MIB,
        ),
        ConnectionField(
            "speed_limit",
            "Speed floor (bytes/s)",
            "A body slower than this over a whole speed window is cut and retried; 0 turns it off.",
            "number",
            default=defaults.SPEED_LIMIT,
        ),
        ConnectionField(
            "speed_time",
            "Speed window (s)",
            "The window of the speed floor.",
            "number",
            default=defaults.SPEED_TIME,
        ),
        ConnectionField(
            "caret_as_wildcard",
            "Send ^ as ? in searches",
            "For servers that do not percent-decode queries (Orthanc): person-name separators are sent as the "
            "one-character wildcard. Default: as the server profile says (true for orthanc).",
            "boolean",
        ),
        ConnectionField(
            "delete_api",
            "Delete through",
            "dicomweb (DICOMweb DELETE), orthanc (Orthanc's own REST API, for Orthanc's DICOMweb plugin, which "
            "has no DELETE) or dcm4chee (reject, then delete); auto: as the server profile says (orthanc for "
            "an Orthanc, else dicomweb).",
            choices=("auto", *defaults.DELETE_APIS),
            default="auto",
        ),
        ConnectionField(
            "transfer_syntax_fallback",
            "Fall back to the server's transfer syntax",
            "When a server cannot send the transfer syntax a retrieve asks for (406), take its default "
            "instead of failing.",
            "boolean",
            default=False,
        ),
        ConnectionField(
            "viewer_url",
            "Viewer link",
            "A viewer's link to a study, with {study} and optionally {series}: OHIF's "
            "https://viewer.example/viewer?StudyInstanceUIDs={study}, say. Tasks show it as an extra link and "
            "study-arrival events carry it. Default: a Google DICOM store's page in the Cloud console; none "
            "elsewhere.",
        ),
        ConnectionField(
            "orthanc_root",
            "Orthanc REST root",
            "With delete_api orthanc: Orthanc's REST API; default: the service root without its last path "
            "segment.",
            format="url",
        ),
        ConnectionField(
            "rejection_code",
            "dcm4chee rejection code",
            "With delete_api dcm4chee: CodeValue^CodingSchemeDesignator of the rejection made before a delete.",
            default=defaults.REJECTION_CODE,
        ),
        ConnectionField(
            "operations_root",
            "Operations root",
            "Where long-running operations are polled, for servers other than Google.",
            format="url",
        ),
    )


def table() -> dict[str, ConnectionField]:
    """Every extra a connection may carry, by name: the common ones, then each auth type's, then each
    source of study arrivals'."""
    from airflow_dicomweb.core import arrivals, auth

    fields = {f.name: f for f in _common()}
    for name in auth.names():
        for one in auth.auth_type(name).fields:
            fields.setdefault(one.name, one)
    for name in arrivals.names():
        for one in arrivals.source_type(name).fields:
            fields.setdefault(one.name, one)
    return fields
