"""Reading an ISO 20022 camt.053 (bank-to-customer statement) file into booked credits.

The file comes from a customer-facing upload, so lxml is configured to refuse every XML trick:
no DTD is loaded, no entity is resolved, nothing is fetched, no huge trees, and any DOCTYPE at all
is rejected (a statement never needs one; XXE and billion-laughs payloads both start with one).
A file that breaks the structure we rely on is rejected whole with a CamtError naming the element
path: half-reading a statement would book some payments and silently lose others.

Versions camt.053.001.02 to .08 differ, for us, only in how Sts is written (`BOOK` before .06,
`<Cd>BOOK</Cd>` after), in the debtor's name (`Dbtr/Nm` or, from .08, `Dbtr/Pty/Nm`) and in where
a transaction's amount is (`TxDtls/AmtDtls/TxAmt/Amt` in .02, `TxDtls/Amt` later).

CONTRACT §5a: every transaction (TxDtls) of a booked entry is its own item, credits and debits
alike; a batch entry that does not itemise its amount is one item that is never booked by itself.
What an item is (a payment, a return of one, a debit that is no business of ours) is decided by the
importer (billing/payments/bank_import.py), which alone sees what was booked before.
"""
from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, replace
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
class BankTransaction:
    """One transaction of a booked entry (CONTRACT §5a: each TxDtls is its own payment)."""
    entry_id: str  # stable identity within the statement's account: the dedupe key
    credit: bool
    booking_date: date
    amount: Decimal  # positive, exactly as the bank wrote it
    currency: str
    remittance: str  # every remittance field, space-joined, for matching.find_proforma_numbers
    references: tuple[str, ...]  # the bank's and the payer's ids of it: a return names the same
    debtor_name: str | None
    debtor_iban: str | None
    returned: bool = False  # a debit that says it returns a credit (RvslInd, RtrInf, a return code)
    reversal_indicator: bool = False  # RvslInd: on a credit, the bank taking back one of its debits
    return_reason: str | None = None
    problem: str | None = None  # why it cannot be booked by itself: finance looks at it
    bank_reference: str | None = None  # what the bank calls it (AcctSvcrRef or NtryRef, #n in a batch)


@dataclass(frozen=True, slots=True)
class BankStatement:
    statement_id: str
    account: str  # the account's IBAN, or its other identifier when the bank gives no IBAN
    currency: str
    transactions: tuple[BankTransaction, ...]  # every booked entry's transactions, in file order
    not_booked: int = 0  # entries not booked yet (PDNG, INFO): no money moved


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
    """The amount exactly as written: whether it can be a payment (its sign, its decimals) is the
    transaction's business, so a debit fee in fillér never rejects the file."""
    currency = node.element.get("Ccy")
    if currency is None or not _CURRENCY.fullmatch(currency):
        raise CamtError(f"{node.path}: missing or invalid Ccy attribute ({currency!r})")
    try:
        return parse_amount(node.text()), currency
    except ValueError as exc:
        raise CamtError(f"{node.path}: {exc}") from exc


_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")


def _date(node: _Node) -> date:
    """BookgDt holds Dt (an ISODate, which may carry an offset: `2020-04-10+02:00`) or DtTm; the
    date as the bank wrote it is the booking day (an offset says where, not which day)."""
    try:
        if (day := node.child("Dt")) is not None:
            match = _ISO_DATE.fullmatch(day.text())
            if match is None:
                raise ValueError(f"{day.text()!r} is not YYYY-MM-DD")
            return date.fromisoformat(match.group(1))
        if (moment := node.child("DtTm")) is not None:
            return datetime.fromisoformat(moment.text().replace("Z", "+00:00")).date()
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


def _direction(node: _Node, fallback: bool | None = None) -> bool:
    """True for a credit (CRDT), False for a debit."""
    indicator = node.child("CdtDbtInd")
    if indicator is None:
        if fallback is None:
            raise CamtError(f"{node.path}/CdtDbtInd: missing")
        return fallback
    text = indicator.text()
    if text not in ("CRDT", "DBIT"):
        raise CamtError(f"{indicator.path}: expected CRDT or DBIT, got {text!r}")
    return text == "CRDT"


# ISO bank transaction sub-families of a payment coming back: reversal due to a payment return,
# or to a cancellation request.
RETURN_CODES = frozenset({"RRTN", "RPCR"})
_NO_REFERENCE = frozenset({"NOTPROVIDED", "NONREF", "NONE"})


def _texts(node: _Node | None, *paths: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    if node is None:
        return found
    for path in paths:
        parents = [node]
        for name in path[:-1]:
            parents = [child for parent in parents for child in parent.children(name)]
        for parent in parents:
            found += [(leaf.element.text or "").strip() for leaf in parent.children(path[-1])]
    return [" ".join(text.split()) for text in found if text]  # a line break in a field is a space


def _remittance(tx: _Node | None) -> list[str]:
    """Every remittance field of a transaction: Ustrd, Strd/CdtrRefInf/Ref, Strd/AddtlRmtInf,
    AddtlTxInf (the entry's AddtlNtryInf is added by the caller)."""
    info = tx.child("RmtInf") if tx is not None else None
    return (_texts(info, ("Ustrd",), ("Strd", "CdtrRefInf", "Ref"), ("Strd", "AddtlRmtInf"))
            + _texts(tx, ("AddtlTxInf",)))


def _references(tx: _Node | None) -> list[str]:
    """The ids a return of this transaction carries too: not the batch's (MsgId, PmtInfId), which
    many transactions share."""
    refs = _texts(tx, ("Refs", "AcctSvcrRef"), ("Refs", "EndToEndId"), ("Refs", "TxId"), ("Refs", "InstrId"))
    return [ref for ref in refs if ref.upper() not in _NO_REFERENCE]


def _family_code(node: _Node | None) -> str | None:
    return node.optional_text("BkTxCd", "Domn", "Fmly", "SubFmlyCd") if node is not None else None


def _tx_amount(tx: _Node) -> tuple[Decimal, str] | None:
    node = tx.child("Amt") or tx.find("AmtDtls", "TxAmt", "Amt")
    return _amount(node) if node is not None else None


def _identity(account: str, statement_id: str, entry: _Node, position: int, amount: Decimal, currency: str,
              booked: date) -> str:
    """What names an entry within its account: the bank's own reference when there is one (so the
    same entry in a daily and a monthly statement is one), else its number within this statement
    (NtryRef is often "1", "2", … in every statement), else its place in this statement."""
    if (servicer_ref := entry.optional_text("AcctSvcrRef")) is not None:
        return f"{account}|ref|{servicer_ref}"
    if (entry_ref := entry.optional_text("NtryRef")) is not None:
        return f"{account}|{statement_id}|ntry|{entry_ref}"
    return f"{account}|{statement_id}|pos|{position}|{amount}|{currency}|{booked.isoformat()}"


def entry_key(identity: str) -> str:
    """The stored, URL-safe id of a transaction (finance assigns it by this id in a path)."""
    return "bank-" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def compact_account(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def _transactions(entry: _Node, statement_id: str, account: str, position: int) -> list[BankTransaction]:
    amount, currency = _amount(entry.need("Amt"))
    credit = _direction(entry)
    booking = entry.child("BookgDt")
    if booking is None:
        raise CamtError(f"{entry.path}/BookgDt: missing on a booked entry")
    booked = _date(booking)
    reversal = (entry.optional_text("RvslInd") or "false").lower() == "true"
    extra = _texts(entry, ("AddtlNtryInf",))
    txs = [tx for details in entry.children("NtryDtls") for tx in details.children("TxDtls")]
    batch = entry.find("NtryDtls", "Btch") if len(entry.children("NtryDtls")) == 1 else None
    declared = int(batch.optional_text("NbOfTxs") or 0) if batch is not None else 0
    identity = _identity(account, statement_id, entry, position, amount, currency, booked)
    entry_code = _family_code(entry)

    def make(tx: _Node | None, index: int, tx_amount: Decimal, problem: str | None,
             remittance: list[str], references: list[str]) -> BankTransaction:
        tx_credit = _direction(tx, credit) if tx is not None else credit
        parties = tx.child("RltdPties") if tx is not None else None
        return_info = tx.child("RtrInf") if tx is not None else None
        code = _family_code(tx) or entry_code
        returned = not tx_credit and (reversal or return_info is not None or code in RETURN_CODES)
        if not problem and tx_credit and not reversal:
            if tx_amount <= 0:
                problem = f"amount {tx_amount} is not a payment"
            elif not has_currency_precision(tx_amount, currency):
                problem = f"{tx_amount} has more decimals than {currency} has in the ledger"
        entry_ref = entry.optional_text("AcctSvcrRef") or entry.optional_text("NtryRef")
        if entry.optional_text("AcctSvcrRef") and index <= 1:
            references = [*references, entry.optional_text("AcctSvcrRef")]
        bank_reference = (_texts(tx, ("Refs", "AcctSvcrRef")) or [None])[0] if index > 1 or len(txs) > 1 else None
        if bank_reference is None and entry_ref is not None:
            bank_reference = entry_ref if index <= 1 and len(txs) <= 1 else f"{entry_ref}#{index}"
        return BankTransaction(
            entry_id=f"{identity}|tx|{index}", credit=tx_credit, booking_date=booked,
            amount=tx_amount.quantize(quantum(currency)) if has_currency_precision(tx_amount, currency) else tx_amount,
            currency=currency, remittance=" ".join(dict.fromkeys(remittance + extra)),
            references=tuple(dict.fromkeys(references)),
            debtor_name=(parties.optional_text("Dbtr", "Nm") or parties.optional_text("Dbtr", "Pty", "Nm"))
            if parties is not None else None,
            debtor_iban=parties.optional_text("DbtrAcct", "Id", "IBAN") if parties is not None else None,
            returned=returned, reversal_indicator=reversal,
            return_reason=return_info.optional_text("Rsn", "Cd") if return_info is not None else None,
            problem=problem, bank_reference=bank_reference)

    if len(txs) <= 1 and declared <= 1:
        tx = txs[0] if txs else None
        return [make(tx, 1, amount, None, _remittance(tx), _references(tx))]
    amounts = [_tx_amount(tx) for tx in txs]
    itemised = (len(txs) >= max(declared, 2) and all(a is not None and a[1] == currency for a in amounts)
                and sum((a[0] for a in amounts), Decimal(0)) == amount)
    if not itemised:
        # Never booked whole to one account: its payers are several. Finance splits it by hand.
        remittance = [text for tx in txs for text in _remittance(tx)]
        return [make(None, 0, amount, f"a batch entry of {max(declared, len(txs))} transactions that the "
                                      "statement does not itemise to the entry's amount", remittance, [])]
    return [make(tx, index, tx_amount, None, _remittance(tx), _references(tx))
            for index, (tx, (tx_amount, _)) in enumerate(zip(txs, amounts), 1)]


def _statement(stmt: _Node) -> BankStatement:
    statement_id = stmt.need("Id").text()
    account_node = stmt.need("Acct")
    account = account_node.optional_text("Id", "IBAN") or account_node.optional_text("Id", "Othr", "Id")
    if account is None:
        raise CamtError(f"{account_node.path}/Id: neither IBAN nor Othr/Id")
    entries = stmt.children("Ntry")
    currency = account_node.optional_text("Ccy")
    if currency is None:
        amounts = [bal.need("Amt") for bal in stmt.children("Bal")] + [e.need("Amt") for e in entries]
        if not amounts:
            raise CamtError(f"{account_node.path}/Ccy: missing and no amount to infer it from")
        currency = _amount(amounts[0])[1]
    transactions: list[BankTransaction] = []
    seen: dict[str, int] = {}
    not_booked = 0
    for position, entry in enumerate(entries, 1):
        if _status(entry) != "BOOK":
            not_booked += 1
            continue
        for tx in _transactions(entry, statement_id, compact_account(account), position):
            # A bank that repeats a reference inside one statement still gets every transaction
            # booked: the repeat is told apart by its order, the same on every upload of the file.
            count = seen.get(tx.entry_id, 0)
            seen[tx.entry_id] = count + 1
            identity = tx.entry_id if count == 0 else f"{tx.entry_id}|again|{count}"
            transactions.append(replace(tx, entry_id=entry_key(identity)))
    return BankStatement(statement_id=statement_id, account=account, currency=currency,
                         transactions=tuple(transactions), not_booked=not_booked)


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
