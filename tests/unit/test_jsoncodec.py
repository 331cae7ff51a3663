"""The JSON columns' codec reads what the standard library wrote and writes what it would accept."""
import json
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from billing.db import jsoncodec

values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20)


@given(values)
def test_what_either_library_wrote_reads_back_the_same(value):
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
    assert jsoncodec.loads(json.dumps(value)) == value


def test_a_lone_surrogate_the_standard_library_let_in_still_reads_and_writes():
    name = "Kft. \ud800"
    stored = json.dumps({"name": name})
    assert jsoncodec.loads(stored) == {"name": name}
    assert json.loads(jsoncodec.dumps({"name": name})) == {"name": name}


def test_integer_keys_become_strings_and_money_is_never_written_as_a_number():
    assert jsoncodec.loads(jsoncodec.dumps({1: "a"})) == {"1": "a"}
    with pytest.raises(TypeError):
        jsoncodec.dumps({"amount": Decimal("1.10")})
