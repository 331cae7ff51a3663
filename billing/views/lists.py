"""Lists across accounts for the back office: accounts and documents, a page at a time.

Keyset pagination on an immutable sort key: accounts by id, documents by (issue_date, number).
The cursor is the key of the last row a page looked at, opaque (urlsafe base64 of a JSON list);
the next page starts strictly after it. Rows are never updated in a way that moves them, so a
row added while someone pages shows up on a later page if it sorts after the cursor, and no row
is ever skipped or repeated.

State (accounts) and status (documents) are computed, not stored: candidates are read from the
database in batches, in key order, narrowed by what SQL can decide exactly or as a superset, and
each batch is then judged by the same code the single-resource views use. A request looks at
most MAX_SCANNED candidates: past that it answers the matches found so far with a cursor at the
last candidate seen (a page may then hold fewer than `limit` items; the list ends only when
next_cursor is null).
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from billing.cycle.run import load_state
from billing.db import models as m
from billing.db.queries import among
from billing.errors import invalid_field
from billing.views.accounts import account_view, get_account
from billing.views.cursors import after_key, decode_cursor, decode_day_key, encode_cursor, encode_day_key
from billing.views.documents import document_statuses, document_summary, nav_statuses, paid_by_proforma
from nav_reporting.models import NavOutbox

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
MAX_SCANNED = 10_000  # candidates one request may judge before it answers with what it has
FILTER_BATCH = 200  # candidates judged at a time when a filter is computed in Python

# The kinds for which document_statuses (billing/views/documents.py) can give each status: the
# exact check is document_statuses itself; this only keeps rows that cannot match out of the scan.
STATUS_KINDS: dict[str, tuple[str, ...] | None] = {
    "open": ("proforma",), "overdue": ("proforma",), "void": ("proforma",),
    "paid": ("proforma", "invoice"),
    "refunded": ("invoice",), "partially_refunded": ("invoice",),
    "issued": None,  # every kind but proforma and invoice (credit notes, corrections)
}

Row = TypeVar("Row")


def check_query(pairs: Iterable[tuple[str, str]], allowed: Sequence[str]) -> None:
    """A parameter the route does not know (a typo would silently list everything) or one given
    twice is refused, naming it."""
    seen: set[str] = set()
    for name, _ in pairs:
        if name not in allowed:
            raise invalid_field(name, f"unknown query parameter; this list takes {', '.join(allowed)}")
        if name in seen:
            raise invalid_field(name, "given more than once")
        seen.add(name)


def _page(fetch: Callable[[Any, int], list[Row]], judge: Callable[[list[Row]], list[Row]],
          key_of: Callable[[Row], Any], after: Any, limit: int, batch: int) -> tuple[list[Row], Any | None]:
    """(the page's rows, the key to continue after, or None at the end). Reads candidates after
    `after` in key order, `batch` at a time, keeps those `judge` accepts, and looks one match
    ahead so that next_cursor is null exactly when nothing follows."""
    found: list[Row] = []
    scanned = 0
    while True:
        candidates = fetch(after, batch)
        found += judge(candidates)
        if len(found) > limit:
            return found[:limit], key_of(found[limit - 1])
        if len(candidates) < batch:
            return found, None
        after = key_of(candidates[-1])
        scanned += len(candidates)
        if scanned >= MAX_SCANNED:
            return found, after


# -- accounts -------------------------------------------------------------------------------------

def _ascii_runs(text: str) -> list[str]:
    """The lower-cased ASCII runs of a search text. Every engine lower-cases ASCII alike (SQLite's
    lower() does nothing else), so `lower(column) LIKE %run%` for each run is a superset of a
    case-insensitive match; Python then decides exactly."""
    return [run for run in re.findall(r"[\x00-\x7f]+", text.lower()) if run]


def account_page(session: Session, *, state: str | None, q: str | None, limit: int,
                 cursor: str | None) -> dict[str, Any]:
    """Accounts by id. `state` is the state the account view shows (billing/views/accounts.py):
    the stored one (account_states), unless events wait for the cycle, when the view applies them
    in memory; `q` a case-insensitive substring of the id or the name."""
    after = decode_cursor(cursor, "accounts", 1)[0] if cursor else None
    needle = q.lower() if q else None
    waiting = exists().where(m.PendingEvent.account_id == m.Account.id)
    stored = func.coalesce(m.AccountStateRow.status, "trialing")
    views: dict[str, dict[str, Any]] = {}

    def fetch(after_id: str | None, size: int) -> list:
        query = (select(m.Account, stored, waiting).outerjoin(m.AccountStateRow,
                                                               m.AccountStateRow.account_id == m.Account.id)
                 .order_by(m.Account.id).limit(size))
        if after_id is not None:
            query = query.where(m.Account.id > after_id)
        for run in _ascii_runs(needle or ""):
            query = query.where(or_(func.lower(m.Account.id).contains(run, autoescape=True),
                                    func.lower(m.Account.name).contains(run, autoescape=True)))
        if state is not None:  # the stored state, or events waiting that the view applies
            query = query.where(or_(stored == state, waiting))
        return list(session.execute(query))

    def view_of(account: m.Account) -> dict[str, Any]:
        if account.id not in views:
            views[account.id] = account_view(session, account.id)
        return views[account.id]

    def judge(rows: list) -> list:
        kept = []
        for account, stored_state, has_waiting in rows:
            if needle and needle not in account.id.lower() and needle not in (account.name or "").lower():
                continue
            if state is not None and (view_of(account)["state"] if has_waiting else stored_state) != state:
                continue
            kept.append((account, stored_state, has_waiting))
        return kept

    filtered = state is not None or bool(needle)
    rows, next_key = _page(fetch, judge, lambda row: row[0].id, after, limit,
                           max(limit + 1, FILTER_BATCH) if filtered else limit + 1)
    return {"items": [view_of(account) for account, _, _ in rows],
            "next_cursor": encode_cursor("accounts", next_key) if next_key is not None else None}


# -- documents ------------------------------------------------------------------------------------

def _judged(session: Session, rows: list[m.DocumentRow]) -> list[dict[str, Any]]:
    """Each row as the account's documents list shows it (billing/views/documents.documents_view):
    statuses per account from its stored state, what was paid on each proforma, NAV status."""
    paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    by_account: dict[str, list[m.DocumentRow]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, []).append(row)
    # The accounts and their states in two queries: get_account and load_state below then find
    # them in the session's identity map (held here: it keeps only what is referenced).
    ids = list(by_account)
    held = [*session.scalars(select(m.Account).where(among(session, m.Account.id, ids))),
            *session.scalars(select(m.AccountStateRow).where(among(session, m.AccountStateRow.account_id, ids)))]
    # document_statuses judges rows against one account state, of which it reads the day processed
    # (`through`) and the status: accounts alike in both are judged in one call (one query for
    # their credit notes) instead of one call each. If it ever reads more of the state, this key
    # grows with it (tests/lists/test_document_list.py compares every status with the single view).
    alike: dict[tuple, tuple[Any, list[m.DocumentRow]]] = {}
    for account_id, group in by_account.items():
        state = load_state(session, get_account(session, account_id))
        alike.setdefault((state.through, state.status), (state, []))[1].extend(group)
    del held
    statuses: dict[str, str] = {}
    for state, group in alike.values():
        statuses.update(document_statuses(session, group, state, paid))
    navs = nav_statuses(session, [r.number for r in rows if r.kind != "proforma"])
    return [document_summary(r, statuses[r.number], navs.get(r.number),
                             paid.get(r.number, Decimal(0)) if r.kind == "proforma" else None) for r in rows]


def document_page(session: Session, *, kind: str | None, status: str | None, nav_status: str | None,
                  day_from: date | None, day_to: date | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Documents by (issue_date, number), both fixed when a document is issued. `status` as
    document_statuses computes it, judged a batch at a time; `nav_status` the NAV outbox's
    (proformas have none); `from`/`to` on the issue date, inclusive."""
    after = decode_day_key(cursor, "documents") if cursor else None
    doc = m.DocumentRow

    def fetch(after: tuple[date, str] | None, size: int) -> list[m.DocumentRow]:
        query = select(doc).order_by(doc.issue_date, doc.number).limit(size)
        if after is not None:
            query = query.where(after_key(doc.issue_date, doc.number, after))
        if kind is not None:
            query = query.where(doc.kind == kind)
        if status is not None:
            kinds = STATUS_KINDS[status]
            query = query.where(doc.kind.in_(kinds) if kinds else doc.kind.not_in(("proforma", "invoice")))
        if nav_status is not None:
            query = query.where(exists().where(NavOutbox.document_number == doc.number,
                                               NavOutbox.status == nav_status))
        if day_from is not None:
            query = query.where(doc.issue_date >= day_from)
        if day_to is not None:
            query = query.where(doc.issue_date <= day_to)
        return list(session.scalars(query))

    summaries: dict[str, dict[str, Any]] = {}  # of the rows kept only

    def judge(rows: list[m.DocumentRow]) -> list[m.DocumentRow]:
        kept = []
        for row, summary in zip(rows, _judged(session, rows)):
            if status is None or summary["status"] == status:
                summaries[row.number] = summary
                kept.append(row)
        return kept

    rows, next_key = _page(fetch, judge, lambda r: (r.issue_date, r.number), after, limit,
                           max(limit + 1, FILTER_BATCH) if status is not None else limit + 1)
    return {"items": [summaries[r.number] for r in rows],
            "next_cursor": encode_day_key("documents", *next_key) if next_key is not None else None}
