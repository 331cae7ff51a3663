"""Reading an ISO 20022 camt.053 (bank-to-customer statement) file into booked credits.

The file comes from a customer-facing upload, so lxml is configured to refuse every XML trick:
no DTD is loaded, no entity is resolved, nothing is fetched, no huge trees, and any DOCTYPE at all
is rejected (a statement never needs one; XXE and billion-laughs payloads both start with one).
A file that breaks the structure we rely on is rejected whole with a CamtError naming the element
path: half-reading a statement would book some payments and silently lose others.

Versions camt.053.001.02 to .08 differ, for us, only in how Sts is written (`BOOK` before .06,
`<Cd>BOOK</Cd>` after) and in the debtor's name (`Dbtr/Nm` or, from .08, `Dbtr/Pty/Nm`).
"""
from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from billing.money import has_currency_precision, parse_amount, quantum
from billing.payments.errors import CamtError

NAMESPACES = frozenset(
    f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version:02d}" for version in range(2, 9)
)
MAX_BYTES = 20 * 1024 * 1024  # a year of daily statements for a small business is far less
_CURRENCY = re.compile(r"[A-Z]{3}")
_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BankCredit:
    entry_id: str  # stable across uploads of the same file: the dedupe key
    booking_date: date
    amount: Decimal  # positive, in the currency's precision
    currency: str
    remittance: str  # free text and references, space-joined, for matching.find_proforma_number
    debtor_name: str | None
    debtor_iban: str | None


@dataclass(frozen=True, slots=True)
class BankStatement:
    statement_id: str
    iban: str  # the account's IBAN, or its other identifier when the bank gives no IBAN
    currency: str
    entries: tuple[BankCredit, ...]  # booked credits only, in file order


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )


def _markup_text(data: bytes) -> str:
    """The file as text good enough to spot markup: UTF-16/32 by their BOM; anything else is
    ASCII-compatible for markup (UTF-8, ISO-8859-2), which latin-1 decodes without failing."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    return data.decode("latin-1")


def _parse_xml(data: bytes) -> etree._Element:
    if not isinstance(data, (bytes, bytearray)):
        raise CamtError("a bank statement must be given as bytes")
    if len(data) > MAX_BYTES:
        raise CamtError(f"file is larger than {MAX_BYTES} bytes")
    if _DOCTYPE.search(_markup_text(bytes(data))):
        raise CamtError("DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(bytes(data), _hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise CamtError(f"not well-formed XML: {exc}") from exc
    # Second line of defence for encodings the scan cannot read (UTF-16 without BOM, EBCDIC).
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CamtError("DOCTYPE and ENTITY declarations are not allowed")
    return root


class _Node:
    """An element with its path, so every error can say where it is."""

    def __init__(self, element: etree._Element, path: str, ns: str) -> None:
        self.element, self.path, self.ns = element, path, ns

    def children(self, name: str) -> list["_Node"]:
        found = self.element.findall(f"{{{self.ns}}}{name}")
        if len(found) == 1:
            return [_Node(found[0], f"{self.path}/{name}", self.ns)]
        return [_Node(el, f"{self.path}/{name}[{i}]", self.ns) for i, el in enumerate(found, 1)]

    def child(self, name: str) -> "_Node | None":
        found = self.children(name)
        if len(found) > 1:
            raise CamtError(f"{self.path}/{name}: expected once, found {len(found)} times")
        return found[0] if found else None

    def need(self, name: str) -> "_Node":
        node = self.child(name)
        if node is None:
            raise CamtError(f"{self.path}/{name}: missing")
        return node

    def find(self, *names: str) -> "_Node | None":
        node: _Node | None = self
        for name in names:
            node = node.child(name) if node is not None else None
        return node

    def text(self) -> str:
        value = (self.element.text or "").strip()
        if not value:
            raise CamtError(f"{self.path}: empty")
        return value

    def optional_text(self, *names: str) -> str | None:
        """Optional fields: an empty element counts as absent (banks do send `<Ustrd/>`)."""
        node = self.find(*names)
        return ((node.element.text or "").strip() or None) if node is not None else None


def _amount(node: _Node) -> tuple[Decimal, str]:
    currency = node.element.get("Ccy")
    if currency is None or not _CURRENCY.fullmatch(currency):
        raise CamtError(f"{node.path}: missing or invalid Ccy attribute ({currency!r})")
    try:
        amount = parse_amount(node.text())
    except ValueError as exc:
        raise CamtError(f"{node.path}: {exc}") from exc
    if amount <= 0:
        raise CamtError(f"{node.path}: amount must be positive, got {amount}")
    if not has_currency_precision(amount, currency):
        raise CamtError(f"{node.path}: {amount} has more decimals than {currency} allows")
    return amount.quantize(quantum(currency)), currency


def _date(node: _Node) -> date:
    """BookgDt holds Dt or DtTm; a DtTm's own calendar date is the booking day."""
    try:
        if (day := node.child("Dt")) is not None:
            return date.fromisoformat(day.text())
        if (moment := node.child("DtTm")) is not None:
            return datetime.fromisoformat(moment.text()).date()
    except ValueError as exc:
        raise CamtError(f"{node.path}: invalid date: {exc}") from exc
    raise CamtError(f"{node.path}: neither Dt nor DtTm")


def _status(entry: _Node) -> str:
    status = entry.need("Sts")
    if len(status.element):  # .06 and later: <Sts><Cd>BOOK</Cd></Sts> (or Prtry)
        code = status.child("Cd") or status.child("Prtry")
        if code is None:
            raise CamtError(f"{status.path}: neither Cd nor Prtry")
        return code.text()
    return status.text()


def _remittance_and_debtor(entry: _Node) -> tuple[str, str | None, str | None]:
    parts: list[str] = []
    debtor_name = debtor_iban = None
    for details in entry.children("NtryDtls"):
        for tx in details.children("TxDtls"):
            info = tx.child("RmtInf")
            if info is not None:
                parts += [(line.element.text or "").strip() for line in info.children("Ustrd")]
                for structured in info.children("Strd"):
                    parts += [(ref.element.text or "").strip() for ref in _refs(structured)]
            end_to_end = tx.optional_text("Refs", "EndToEndId")
            if end_to_end and end_to_end.upper() != "NOTPROVIDED":
                parts.append(end_to_end)
            parties = tx.child("RltdPties")
            if parties is not None and debtor_name is None:
                debtor_name = (parties.optional_text("Dbtr", "Nm")
                               or parties.optional_text("Dbtr", "Pty", "Nm"))
                debtor_iban = parties.optional_text("DbtrAcct", "Id", "IBAN")
    if (extra := entry.optional_text("AddtlNtryInf")) is not None:
        parts.append(extra)
    unique = list(dict.fromkeys(part for part in parts if part))
    return " ".join(unique), debtor_name, debtor_iban


def _refs(structured: _Node) -> list[_Node]:
    info = structured.child("CdtrRefInf")
    return info.children("Ref") if info is not None else []


def _entry_id(entry: _Node, statement_id: str, iban: str, position: int,
              amount: Decimal, currency: str, booked: date) -> str:
    """The bank's own reference when there is one; otherwise a hash of what identifies the
    entry inside this statement, so uploading the same file twice gives the same ids."""
    if (servicer_ref := entry.optional_text("AcctSvcrRef")) is not None:
        return servicer_ref
    if (entry_ref := entry.optional_text("NtryRef")) is not None:
        # NtryRef is often only unique within one statement ("1", "2", ...): qualify it.
        return f"{statement_id}/{entry_ref}"
    digest = hashlib.sha256(
        f"{iban}|{statement_id}|{position}|{amount}|{currency}|{booked.isoformat()}".encode()
    ).hexdigest()
    return f"camt-{digest[:32]}"


def _credit(entry: _Node, statement_id: str, iban: str, position: int) -> BankCredit | None:
    amount, currency = _amount(entry.need("Amt"))
    direction = entry.need("CdtDbtInd").text()
    if direction not in ("CRDT", "DBIT"):
        raise CamtError(f"{entry.path}/CdtDbtInd: expected CRDT or DBIT, got {direction!r}")
    status = _status(entry)
    booking = entry.child("BookgDt")
    if status == "BOOK" and booking is None:
        raise CamtError(f"{entry.path}/BookgDt: missing on a booked entry")
    booked = _date(booking) if booking is not None else None
    remittance, debtor_name, debtor_iban = _remittance_and_debtor(entry)
    reversal = (entry.optional_text("RvslInd") or "false").lower() == "true"
    # Debits are our own outgoing money; a reversal is a bank correction, not a customer paying.
    if direction != "CRDT" or status != "BOOK" or reversal:
        return None
    return BankCredit(
        entry_id=_entry_id(entry, statement_id, iban, position, amount, currency, booked),
        booking_date=booked, amount=amount, currency=currency, remittance=remittance,
        debtor_name=debtor_name, debtor_iban=debtor_iban,
    )


def _statement(stmt: _Node) -> BankStatement:
    statement_id = stmt.need("Id").text()
    account = stmt.need("Acct")
    iban = account.optional_text("Id", "IBAN") or account.optional_text("Id", "Othr", "Id")
    if iban is None:
        raise CamtError(f"{account.path}/Id: neither IBAN nor Othr/Id")
    entries = stmt.children("Ntry")
    currency = account.optional_text("Ccy")
    if currency is None:
        amounts = [bal.need("Amt") for bal in stmt.children("Bal")] + [e.need("Amt") for e in entries]
        if not amounts:
            raise CamtError(f"{account.path}/Ccy: missing and no amount to infer it from")
        currency = _amount(amounts[0])[1]
    credits: list[BankCredit] = []
    seen: dict[str, str] = {}
    for position, entry in enumerate(entries, 1):
        credit = _credit(entry, statement_id, iban, position)
        if credit is None:
            continue
        if credit.entry_id in seen:  # a dedupe key used twice would silently drop a payment
            raise CamtError(f"{entry.path}: entry id {credit.entry_id!r} repeats {seen[credit.entry_id]}")
        seen[credit.entry_id] = entry.path
        credits.append(credit)
    return BankStatement(statement_id=statement_id, iban=iban, currency=currency,
                         entries=tuple(credits))


def parse_statements(data: bytes) -> tuple[BankStatement, ...]:
    """Every Stmt of a camt.053 file. Raises CamtError for anything unsafe or malformed."""
    root = _parse_xml(data)
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document" or namespace not in NAMESPACES:
        raise CamtError(f"{local}: root must be a camt.053.001.02-08 Document, got {root.tag!r}")
    document = _Node(root, "Document", namespace)
    statements = document.need("BkToCstmrStmt").children("Stmt")
    if not statements:
        raise CamtError("Document/BkToCstmrStmt/Stmt: missing")
    return tuple(_statement(stmt) for stmt in statements)


def parse_statement(data: bytes) -> BankStatement:
    """The one statement of a camt.053 file (the usual shape: one account, one day)."""
    statements = parse_statements(data)
    if len(statements) != 1:
        raise CamtError(f"Document/BkToCstmrStmt: expected one Stmt, found {len(statements)}; "
                        "use parse_statements")
    return statements[0]
