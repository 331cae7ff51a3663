"""A document's stored body and hash: the fast writer gives the canonical JSON to the byte."""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from invoices.documents import Document, canonical_json, json_hash


@settings(max_examples=300)
@given(st.from_type(Document))
def test_the_fast_writer_is_the_canonical_json(doc):
    assert doc.canonical_json() == canonical_json(doc.to_json())
    assert doc.content_hash() == json_hash(doc.to_json())


@settings(max_examples=20)
@given(st.from_type(Document))
def test_a_name_orjson_refuses_still_has_its_canonical_json(doc):
    odd = dataclasses.replace(doc, buyer=dataclasses.replace(doc.buyer, name="lone \udc80 surrogate"))
    assert odd.canonical_json() == canonical_json(odd.to_json())
