"""The vendored NAV XSDs, compiled once per process (compiling invoiceApi.xsd takes ~100 ms)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

import schemas

_XSD_DIR = Path(schemas.__file__).resolve().parent / "nav"


class SchemaViolation(ValueError):
    """An XML document does not satisfy its NAV schema; `errors` holds libxml2's messages."""

    def __init__(self, schema_name: str, errors: list[str]):
        self.schema_name = schema_name
        self.errors = errors
        super().__init__(f"{schema_name}: " + "; ".join(errors[:5]))


@lru_cache(maxsize=None)
def load_schema(name: str) -> etree.XMLSchema:
    """`name` is a file in schemas/nav, e.g. "invoiceData.xsd"."""
    return etree.XMLSchema(etree.parse(str(_XSD_DIR / name)))


def validate(xml: bytes | etree._Element, schema_name: str) -> etree._Element:
    """Parse (if needed) and validate; returns the root element or raises SchemaViolation."""
    if isinstance(xml, (bytes, bytearray)):
        try:
            root = etree.fromstring(bytes(xml), parser=_SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            raise SchemaViolation(schema_name, [f"not well-formed XML: {exc}"]) from exc
    else:
        root = xml
    schema = load_schema(schema_name)
    if not schema.validate(root):
        errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
        raise SchemaViolation(schema_name, errors)
    return root


# No network and no entity expansion: the bytes we parse come from NAV or from our own builder.
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, parser=_SAFE_PARSER)
