"""Is a patient's name left in free text? Every text attribute (descriptions, comments, protocol names, the
text of structured reports) is searched for the words of the patient's names: those the instance itself
holds (PatientName, OtherPatientNames), and the names the caller knows (a de-identified instance no longer
holds them). A finding names the attribute, never the name."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydicom.dataset import Dataset

from airflow_dicomweb.core.quality.finding import NAMES_IN_FREE_TEXT, Finding
from airflow_dicomweb.core.quality.instance_facts import InstanceFacts

#: Value representations of free text.
TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC"})
#: Name parts shorter than this are not searched (initials match everywhere).
MIN_PART = 2
_OWN_NAMES = frozenset({0x00100010, 0x00101001})
#: Where an instance's own name may stand by design (a pseudonym is both PatientName and PatientID).
_OWN_IDS = frozenset({0x00100020})


def name_words(names: Iterable[str]) -> set[str]:
    words = set()
    for name in names:
        for part in re.split(r"[\^=\s,.]+", str(name)):
            if len(part) >= MIN_PART:
                words.add(part.upper())
    return words


def _pattern(words: set[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(r"(?<![A-Z0-9])(?:" + body + r")(?![A-Z0-9])")


def names_finding(ds: Dataset, facts: InstanceFacts, known_names: Iterable[str] = ()) -> Finding | None:
    own = [str(ds.get("PatientName", "") or "")]
    other = ds.get("OtherPatientNames")
    if other:
        own += [str(n) for n in (other if isinstance(other, list | tuple) else [other])]
    own_pattern = _pattern(name_words(own))
    known_pattern = _pattern(name_words(known_names))
    for elem in ds.iterall():
        if elem.tag in _OWN_NAMES or elem.VR not in TEXT_VRS or not elem.value:
            continue
        # a pseudonym stands in PatientID as in PatientName: the instance's own name is not sought there
        patterns = [known_pattern, None if elem.tag in _OWN_IDS else own_pattern]
        values = elem.value if elem.VM > 1 else [elem.value]
        if any(p is not None and p.search(str(v).upper()) for p in patterns for v in values):
            return Finding(
                NAMES_IN_FREE_TEXT,
                facts.study_instance_uid,
                f"a patient's name is in {elem.tag} {elem.keyword or '(unnamed)'}",
                facts.series_instance_uid,
                facts.sop_instance_uid,
            )
    return None
