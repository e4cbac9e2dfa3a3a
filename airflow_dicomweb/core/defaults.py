"""Every default of the provider, defined once: the core's signatures, the connection's extras (and the
connection form), the operators, sensors and triggers, and the command line all read them from here.

Where two layers differ on purpose, both values are here, named for where they apply (a library call
retrieves everything unless told to resume; a task resumes by default).
"""

from __future__ import annotations

# --- the connection -----------------------------------------------------------------------------------
#: The Airflow connection used when none is named.
CONN_ID = "dicomweb_default"
#: The auth type of a connection that names none: ``basic`` with a login, else ``none``.
AUTH_TYPE = "auto"
#: The server profile of a connection that names none: told from the URL where it can be.
SERVER = "auto"
#: (connect, read) timeouts in seconds.
TIMEOUT = (10.0, 300.0)
#: Retries of a failed request, and the backoff between them (seconds).
MAX_RETRIES = 5
RETRY_INITIAL_WAIT = 1.0
RETRY_MAX_WAIT = 32.0
RETRY_MAX_ELAPSED = 300.0
#: Pooled keep-alive connections per host.
POOL_SIZE = 16
#: The most a response held in memory may be, once decoded (MiB).
MAX_RESPONSE_MIB = 256
#: The speed floor: a body slower than SPEED_LIMIT bytes/s over a whole SPEED_TIME-second window is cut.
SPEED_LIMIT = 1024
SPEED_TIME = 60.0
#: How deletes are made, where the server profile says nothing.
DELETE_API = "dicomweb"
#: Every way of deleting: DICOMweb DELETE, Orthanc's REST API, dcm4chee's reject-then-delete.
DELETE_APIS = ("dicomweb", "orthanc", "dcm4chee")
#: dcm4chee's reason for rejecting what ``delete_api: dcm4chee`` deletes: (113039, DCM) "Data Retention
#: Policy Expired", the rejection its archive purges for good.
REJECTION_CODE = "113039^DCM"
#: Google's API root and version, for a store named by its parts.
GOOGLE_API_ROOT = "https://healthcare.googleapis.com"
#: Where the google-pubsub source pulls its notifications.
PUBSUB_API_ROOT = "https://pubsub.googleapis.com"
GOOGLE_API_VERSION = "v1"

# --- store (STOW-RS) ------------------------------------------------------------------------------------
#: Requests in flight at once.
STORE_CONCURRENCY = 4
#: Instances per request, and bytes per request.
STORE_BATCH_FILES = 16
STORE_BATCH_BYTES = 64 * 1024 * 1024
#: Ask the server which instances it holds before sending (one search per series).
STORE_SKIP_EXISTING = True

# --- retrieve (WADO-RS) ---------------------------------------------------------------------------------
#: The transfer syntax asked for: ``*`` is the bytes as stored, never transcoded.
TRANSFER_SYNTAX = "*"
#: Series of a study fetched at once when not told (4 streams reach what the disk and a local server allow
#: on 2 cores; more only add contention: benchmarks/).
SERIES_CONCURRENCY = 4
#: A library call fetches everything; a task or the command line resumes (keeps complete files).
RETRIEVE_SKIP_EXISTING = False
RESUME_RETRIEVES = True

# --- copy between services (WADO-RS into STOW-RS) -----------------------------------------------------
#: Series of a study read from the source at once (one response each): reading is rarely what limits a copy
#: (a destination's store is), and each stream holds a batch while it reads.
COPY_STREAMS = 2
#: Batches held at once (read from the source, or in a STOW-RS request to the destination), and what one
#: carries: memory stays within COPY_CONCURRENCY batches of COPY_BATCH_BYTES (or of one larger instance).
COPY_CONCURRENCY = 4
COPY_BATCH_FILES = 16
COPY_BATCH_BYTES = 16 * 1024 * 1024
#: The largest instance a copy holds in memory (MiB); a larger one is named as failed.
COPY_MAX_INSTANCE_MIB = 1024
#: After copying, list the destination's instances of each study and name what it lacks.
COPY_VERIFY = True
#: A destination that does not list an instance yet is asked once more after this long (an index that lags
#: its store), before the instance is named missing.
COPY_VERIFY_RECHECK_SECONDS = 2.0

# --- de-identification (PS3.15 Annex E) ------------------------------------------------------------------
#: The largest input de-identified (MiB): an instance is read whole; a larger one is reported failed.
DEID_MAX_INSTANCE_MIB = 1024
#: The Airflow connection whose password is the de-identification key, when none is named.
DEID_KEY_CONN_ID = "dicom_deid_key"

# --- DIMSE (PS3.7) ----------------------------------------------------------------------------------------
#: The AE title this side calls itself when none is given.
DIMSE_CALLING_AET = "DICOMWEB"
#: Seconds to wait for an association to be accepted, for a DIMSE answer, and for any network activity.
DIMSE_ACSE_TIMEOUT = 30.0
DIMSE_DIMSE_TIMEOUT = 300.0
DIMSE_NETWORK_TIMEOUT = 300.0
#: The most associations a C-STORE opens with one peer at once. One, as dcmtk's storescu: some archives
#: lose what several associations store at once (dcmqrscp acknowledged every instance and indexed fewer).
#: A peer known to take more (Orthanc serves 4 at once by default) can be given more in its connection.
DIMSE_MAX_ASSOCIATIONS = 1
#: The most results a C-FIND takes before it cancels (a peer that answers without end is stopped).
DIMSE_MAX_FIND_RESULTS = 100_000
#: The most bytes one instance may take when received (the gateway, C-GET): a peer sending more has its
#: association aborted (MiB).
DIMSE_MAX_INSTANCE_MIB = 4096
#: The gateway's port when none is given (DICOM's registered port is 104, which needs privileges).
DIMSE_RECEIVE_PORT = 11112

# --- long-running operations ------------------------------------------------------------------------------
#: How long to wait on an operation, and how often to poll it (growing by half up to the longest interval).
OPERATION_TIMEOUT = 3600.0
OPERATION_POLL_INTERVAL = 5.0
OPERATION_MAX_POLL_INTERVAL = 60.0
#: Tasks, sensors and triggers poll less often: they share the workers and the triggerer.
TASK_OPERATION_POLL_INTERVAL = 10.0
#: The command line polls more often: someone is watching.
CLI_OPERATION_POLL_INTERVAL = 2.0

# --- the study-arrival watcher --------------------------------------------------------------------------
ARRIVAL_POLL_INTERVAL = 60.0
ARRIVAL_LOOKBACK_DAYS = 1
#: A study is announced once no new instance of it has been seen for this long (0: at first sight).
ARRIVAL_SETTLE_SECONDS = 60.0
#: ``dicomweb watch`` polls more often: someone is watching.
CLI_ARRIVAL_POLL_INTERVAL = 5.0
#: Change-feed entries per request (Azure's v2 API takes at most 200), and at most per poll: the rest waits
#: for the next poll, so one poll's time and memory stay bounded after a long outage.
CHANGE_FEED_PAGE = 200
CHANGE_FEED_MAX_PER_POLL = 20_000
#: Push sources: messages asked for per receive (Azure's and SQS's most is 32 and 10; each queue caps it),
#: received at most per poll, and held at most while their studies settle (the rest wait in the queue).
PUSH_BATCH = 32
PUSH_MAX_PER_POLL = 5_000
PUSH_MAX_HELD = 100_000
#: A held message's visibility timeout (ack deadline) is twice settle_seconds plus this.
PUSH_VISIBILITY_MARGIN = 300
#: Orthanc's ``/changes`` entries per request; at most CHANGE_FEED_MAX_PER_POLL are read per poll.
ORTHANC_CHANGES_PAGE = 1000

# --- XCom ----------------------------------------------------------------------------------------------------
#: The most UIDs, paths or results a task pushes to XCom before it refuses (or summarises).
MAX_XCOM_ITEMS = 1000
