import pytest

from airflow_dicomweb.operators.template_values import as_bool, as_int, as_optional_int


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("False", False), ("true", True), ("0", False), ("", False), (None, False), ("YES", True)],
)
def test_booleans_from_templates(value, expected):
    assert as_bool(value, "flag") is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2.5])
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(ValueError, match="flag must be true or false"):
        as_bool(value, "flag")


def test_numbers_from_templates():
    assert as_optional_int("12", "limit") == 12
    assert as_optional_int(None, "limit") is None and as_optional_int("None", "limit") is None
    assert as_int("", "offset", default=0) == 0 and as_int("7", "offset", default=0) == 7
    for bad in ("ten", "1.5", True, "-1"):
        with pytest.raises(ValueError, match="limit"):
            as_optional_int(bad, "limit")
