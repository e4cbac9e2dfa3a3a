"""A server profile: a small, immutable description of what one kind of DICOMweb server does, consulted by
the transactions instead of branches on the server's name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: The most results one QIDO-RS request asks for, per level, where a profile says nothing (Google's maxima).
PAGE_SIZE_MAX = {"studies": 5000, "series": 5000, "instances": 50000}


@dataclass(frozen=True)
class ServerProfile:
    """What a server can do. The defaults describe a server that implements PS3.18 as written."""

    name: str
    #: WADO-RS retrieve of a whole study, and of a whole series.
    study_retrieve: bool = True
    series_retrieve: bool = True
    #: The most results a QIDO-RS page may ask for, per level; the server may cap lower, silently.
    page_size_max: Mapping[str, int] = field(default_factory=lambda: dict(PAGE_SIZE_MAX))
    #: The server's own page cap, where it is documented (it answers at most that many, silently): a page
    #: shorter than it is the last, and costs no further request. None: not known, learned from the answers.
    page_cap: int | None = None
    #: Whether a QIDO-RS filter of comma-separated UIDs matches any of them (UID List Matching, PS3.4
    #: C.2.2.2.2 as PS3.18 section 8.3.4 encodes it): the store's pre-check then names many SOP Instance UIDs
    #: in one search. None: learned from the server with instances it holds (:mod:`..qido.list_matching`),
    #: since a server that reads the list as one literal UID would match nothing, and the store would send
    #: instances the server holds already.
    uid_list_matching: bool | None = None
    #: Whether the server honours QIDO-RS ``offset`` (one that does not answers everything at once).
    honours_offset: bool = True
    #: The largest STOW-RS request body it takes, in bytes (None: no known cap).
    stow_max_bytes: int | None = None
    #: The most STOW-RS requests it takes at once without losing any (None: no known limit): a store or a
    #: copy asked for more sends this many.
    stow_concurrency: int | None = None
    #: The transfer syntaxes a STOW-RS to this server may carry, where it documents a list (None: any). An
    #: instance in another is not sent: a copy says so per instance, rather than leave it to the server.
    stow_transfer_syntaxes: frozenset[str] | None = None
    #: FailureReasons by which this server says an instance is stored already, beyond those every server is
    #: read by (0x0111 Duplicate SOP Instance; 0x0110 with a FailureDetail saying it already exists).
    duplicate_failure_reasons: frozenset[int] = frozenset()
    #: Whether an empty search answers 204 rather than ``[]`` (both are always understood).
    empty_search_204: bool = False
    #: How deletes are made when the connection's ``delete_api`` does not say: ``dicomweb`` (DELETE) or
    #: ``orthanc`` (Orthanc's REST API).
    delete_api: str = "dicomweb"
    #: How long-running operations are named and polled: ``google`` (``{api_root}/{version}/{name}``,
    #: ``done`` with ``response`` or ``error``), ``azure`` (``{service root}/operations/{id}``, ``status``),
    #: or ``none`` (deletes finish at once).
    operations: str = "google"
    #: Where the study-arrival watcher reads arrivals by default (a module of ``core/arrivals/``):
    #: ``search`` (QIDO-RS over a StudyDate window) or ``change-feed`` (Azure's ``/changefeed``, exact).
    arrival_source: str = "search"
    #: ``^`` in search values sent as ``?``, for servers that do not percent-decode queries.
    caret_as_wildcard: bool = False
    #: The viewer link of a study where the connection's ``viewer_url`` sets none: a template with
    #: ``{study}`` made from the service root (None: no default).
    viewer_url: Callable[[str], str | None] | None = field(default=None, compare=False)
    #: With ``server: auto``, whether a service root belongs to this kind of server.
    recognizes: Callable[[str], bool] | None = field(default=None, compare=False)
