"""Properties of the residual identity search (hypothesis): the matcher finds a value exactly where a
whole-word, any-case regular expression of the same values does: not after a letter, a digit or a dot, not
before a letter or a digit."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_dicomweb.core.deid.residual import IdentityMatcher, IdentityValues, identity_matcher

# Few distinct bytes, so that values, their neighbours and their cases meet often.
ALPHABET = b"aAbB1.^ \x00\xc3\xa9"
VALUES = st.lists(
    st.binary(min_size=1, max_size=4).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)),
    min_size=1,
    max_size=4,
)
DATA = st.binary(max_size=60).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b))


def regex_finds(values: list[bytes], data: bytes) -> bool:
    body = b"|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    pattern = re.compile(rb"(?<![A-Za-z0-9.])(?:" + body + rb")(?![A-Za-z0-9])", re.IGNORECASE)
    return pattern.search(data) is not None


@settings(max_examples=3000)
@given(VALUES, DATA)
def test_the_matcher_finds_what_a_whole_word_any_case_expression_finds(values, data):
    assert IdentityMatcher(values).search(data) == regex_finds(values, data)


@given(VALUES, DATA, DATA)
def test_a_value_planted_between_separators_is_found_in_any_case(values, before, after):
    planted = before + b" " + values[0].swapcase() + b" " + after
    assert IdentityMatcher(values).search(planted)


def test_a_value_inside_a_longer_word_or_uid_is_not_a_match():
    matcher = identity_matcher(IdentityValues(frozenset({"SMITH"}), frozenset({"MRN-42"})), {"1.2.3"})
    assert matcher is not None
    assert not matcher.search(b"SMITHERSON GOLDSMITH XMRN-42 MRN-421 41.2.3 11.2.3 1.2.34")
    assert matcher.search(b"dr. smith")
    assert matcher.search(b"^mrn-42^")
    assert matcher.search(b"1.2.3\x00")
    assert identity_matcher(IdentityValues(frozenset(), frozenset()), set()) is None
