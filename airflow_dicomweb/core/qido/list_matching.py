"""Whether a server matches a list of UIDs (UID List Matching, PS3.18 section 8.3.4.1): learned from the server,
not from its name, and remembered for the service.

A profile may say (Orthanc's does); else the server is asked, once per service root and process, with
instances it is known to hold:

1. ``GET {root}/instances?limit=2``: two instances the server holds, ``a`` and ``b``, in its order;
2. ``GET {root}/instances?SOPInstanceUID=b,2.25.0&limit=1``: a server that matches lists answers ``b`` (a
   full page, so no second one is asked for). One that reads the list as one literal UID answers nothing,
   and one that ignores the filter answers its first instance, ``a``: both are taken as "no", and the
   store's pre-check then asks series by series, as before.

A server that holds fewer than two instances cannot be asked; it holds at most the one the first request
found, and that is the whole answer to "which of these does it hold" (:class:`Learned.sample`). Any error
(no root-level instance search, say) is a "no". Two requests, once per service root and process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core.dicom.json_model import SOP_INSTANCE_UID, first_value
from airflow_dicomweb.core.errors import DicomWebError

log = logging.getLogger(__name__)

#: A valid UID no instance has (the root ``2.25`` with the integer 0): the second of the two UIDs asked for.
ABSENT_UID = "2.25.0"

_learned: dict[str, bool] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Learned:
    """``matches``: the server matches UID lists. ``sample``: when not None, every instance the server holds
    (it holds fewer than two), so nothing needs asking."""

    matches: bool
    sample: frozenset[str] | None = None


def _sops(items: Any) -> list[str]:
    return [str(v) for v in (first_value(item, SOP_INSTANCE_UID) for item in items) if v is not None]


def uid_list_matching(search: Any) -> Learned:
    """What the search's server does with UID lists (asked at most once per service root and process)."""
    declared = search.profile.uid_list_matching
    if declared is not None:
        return Learned(bool(declared))
    root = search.transport.url()
    with _lock:
        known = _learned.get(root)
    if known is not None:
        return Learned(known)
    try:
        present = _sops(search.iter_search("instances", limit=2))
        if len(present) < 2:
            return Learned(False, frozenset(present))  # not remembered: the server will hold more
        asked = [present[1], ABSENT_UID]
        answered = _sops(search.iter_search("instances", filters={"SOPInstanceUID": asked}, limit=1))
        matches = answered == [present[1]]
    except DicomWebError as exc:
        log.info("could not learn whether %s matches UID lists (%s): asking series by series", root, exc)
        matches = False
    log.info("%s %s UID lists", search.transport.redact(root), "matches" if matches else "does not match")
    with _lock:
        _learned[root] = matches
    return Learned(matches)


def forget() -> None:
    """Forget what was learned (a test's fresh start)."""
    with _lock:
        _learned.clear()
