"""Builds camt.053 statement files for tests, in any version from .02 to .08.

Version differences that the parser must cope with are reproduced: Sts as text before .06 and
as `<Sts><Cd>` from .06; the debtor's name in `Dbtr/Nm` before .08 and `Dbtr/Pty/Nm` in .08.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree


@dataclass(frozen=True)
class Tx:
    """One TxDtls of a batch entry."""
    amount: str | None
    unstructured: tuple[str, ...] = ()
    structured_ref: str | None = None
    end_to_end_id: str | None = None
    additional_tx_info: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    return_reason: str | None = None


@dataclass(frozen=True)
class Entry:
    amount: str
    credit: bool = True
    currency: str = "HUF"
    status: str = "BOOK"
    booking_date: str | None = "2026-03-18"
    booking_datetime: str | None = None  # e.g. "2026-03-18T23:30:00+01:00", instead of the date
    acct_svcr_ref: str | None = None
    ntry_ref: str | None = None
    unstructured: tuple[str, ...] = ()
    structured_ref: str | None = None
    end_to_end_id: str | None = None
    additional_info: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    reversal: bool = False
    additional_tx_info: str | None = None
    return_reason: str | None = None  # TxDtls/RtrInf/Rsn/Cd
    family_code: str | None = None    # BkTxCd/Domn/Fmly/SubFmlyCd, e.g. RRTN
    transactions: tuple[Tx, ...] = ()  # a batch: these TxDtls instead of the entry's own one
    batch_count: int | None = None     # NtryDtls/Btch/NbOfTxs


@dataclass(frozen=True)
class Statement:
    entries: tuple[Entry, ...]
    statement_id: str = "STMT-20260318-001"
    iban: str = "HU42117730161111101800000000"
    currency: str | None = "HUF"
    version: int = 2
    extra_statements: tuple["Statement", ...] = field(default=())


def namespace(version: int) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version:02d}"


def _sub(parent, name: str, text: str | None = None, **attrs):
    element = etree.SubElement(parent, f"{{{parent.nsmap[None]}}}{name}", **attrs)
    if text is not None:
        element.text = text
    return element


def _entry(stmt, entry: Entry, version: int) -> None:
    ntry = _sub(stmt, "Ntry")
    if entry.ntry_ref:
        _sub(ntry, "NtryRef", entry.ntry_ref)
    _sub(ntry, "Amt", entry.amount, Ccy=entry.currency)
    _sub(ntry, "CdtDbtInd", "CRDT" if entry.credit else "DBIT")
    if entry.reversal:
        _sub(ntry, "RvslInd", "true")
    if version >= 6:
        _sub(_sub(ntry, "Sts"), "Cd", entry.status)
    else:
        _sub(ntry, "Sts", entry.status)
    if entry.booking_date or entry.booking_datetime:
        booking = _sub(ntry, "BookgDt")
        if entry.booking_datetime:
            _sub(booking, "DtTm", entry.booking_datetime)
        else:
            _sub(booking, "Dt", entry.booking_date)
        _sub(_sub(ntry, "ValDt"), "Dt", entry.booking_date or entry.booking_datetime[:10])
    if entry.acct_svcr_ref:
        _sub(ntry, "AcctSvcrRef", entry.acct_svcr_ref)
    code = _sub(ntry, "BkTxCd")
    if entry.family_code:
        domain = _sub(code, "Domn")
        _sub(domain, "Cd", "PMNT")
        family = _sub(domain, "Fmly")
        _sub(family, "Cd", "RCDT")
        _sub(family, "SubFmlyCd", entry.family_code)
    _sub(_sub(code, "Prtry"), "Cd", "TRF")
    details = _sub(ntry, "NtryDtls")
    if entry.batch_count is not None:
        _sub(_sub(details, "Btch"), "NbOfTxs", str(entry.batch_count))
    txs = entry.transactions or (Tx(None, entry.unstructured, entry.structured_ref, entry.end_to_end_id,
                                    entry.additional_tx_info, entry.debtor_name, entry.debtor_iban,
                                    entry.return_reason),)
    for item in txs:
        _tx(details, item, entry.currency, version)
    if entry.additional_info:
        _sub(ntry, "AddtlNtryInf", entry.additional_info)


def _tx(details, item: Tx, currency: str, version: int) -> None:
    tx = _sub(details, "TxDtls")
    if item.end_to_end_id:
        _sub(_sub(tx, "Refs"), "EndToEndId", item.end_to_end_id)
    if item.amount is not None:
        if version >= 4:
            _sub(tx, "Amt", item.amount, Ccy=currency)
        else:
            _sub(_sub(_sub(tx, "AmtDtls"), "TxAmt"), "Amt", item.amount, Ccy=currency)
    if item.debtor_name or item.debtor_iban:
        parties = _sub(tx, "RltdPties")
        if item.debtor_name:
            debtor = _sub(parties, "Dbtr")
            _sub(_sub(debtor, "Pty") if version >= 8 else debtor, "Nm", item.debtor_name)
        if item.debtor_iban:
            _sub(_sub(_sub(parties, "DbtrAcct"), "Id"), "IBAN", item.debtor_iban)
    if item.unstructured or item.structured_ref:
        info = _sub(tx, "RmtInf")
        for line in item.unstructured:
            _sub(info, "Ustrd", line)
        if item.structured_ref:
            _sub(_sub(_sub(info, "Strd"), "CdtrRefInf"), "Ref", item.structured_ref)
    if item.return_reason:
        _sub(_sub(_sub(tx, "RtrInf"), "Rsn"), "Cd", item.return_reason)
    if item.additional_tx_info:
        _sub(tx, "AddtlTxInf", item.additional_tx_info)


def _statement(parent, statement: Statement, version: int) -> None:
    stmt = _sub(parent, "Stmt")
    _sub(stmt, "Id", statement.statement_id)
    _sub(stmt, "CreDtTm", "2026-03-19T06:00:00+01:00")
    account = _sub(stmt, "Acct")
    _sub(_sub(account, "Id"), "IBAN", statement.iban)
    if statement.currency:
        _sub(account, "Ccy", statement.currency)
    balance = _sub(stmt, "Bal")
    _sub(_sub(_sub(balance, "Tp"), "CdOrPrtry"), "Cd", "OPBD")
    _sub(balance, "Amt", "1000000", Ccy=statement.currency or "HUF")
    _sub(balance, "CdtDbtInd", "CRDT")
    _sub(_sub(balance, "Dt"), "Dt", "2026-03-18")
    for entry in statement.entries:
        _entry(stmt, entry, version)


def build_statement(statement: Statement) -> bytes:
    """The statement (and any extra_statements) as a camt.053 file."""
    ns = namespace(statement.version)
    document = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    container = _sub(document, "BkToCstmrStmt")
    header = _sub(container, "GrpHdr")
    _sub(header, "MsgId", f"MSG-{statement.statement_id}")
    _sub(header, "CreDtTm", "2026-03-19T06:00:00+01:00")
    for each in (statement, *statement.extra_statements):
        _statement(container, each, statement.version)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
