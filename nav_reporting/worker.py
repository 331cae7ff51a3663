"""The NAV outbox worker: send queued documents, trace lost answers, poll until DONE/ABORTED.

The rule that shapes everything here (FACTS §5): once NAV may hold a request, we must find out
whether it does before sending the same invoice again, because a second copy of an accepted
invoice is ABORTED as INVOICE_NUMBER_NOT_UNIQUE and leaves the books and NAV disagreeing. So the
request id is committed (state SENDING) before the HTTP call; an unknown outcome stays SENDING
until `_recover` has asked NAV (queryTransactionList, then queryTransactionStatus with the
original request) and either adopted the transaction NAV has or proved there is none.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from billing.db.base import utcnow
from nav_reporting.client import InvoiceOperation, NavClient
from nav_reporting.crypto import new_request_id
from nav_reporting.errors import NavConfigError, NavTechnicalError
from nav_reporting.models import FINAL, IN_NAV, NavOutbox, NavTransaction
from nav_reporting.outbox import OutboxError, invoice_number_of

SessionFactory = sessionmaker[Session] | Callable[[], Session]


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    base_delay: timedelta = timedelta(seconds=30)  # first retry after a technical error
    max_delay: timedelta = timedelta(hours=1)
    recovery_delay: timedelta = timedelta(minutes=5)  # FACTS §5: wait before looking a lost request up
    lookback: timedelta = timedelta(minutes=10)  # queryTransactionList window before our send time
    batch_size: int = 100  # NAV's maximum per manageInvoice
    poll_interval_s: float = 2.0


DEFAULT_POLICY = WorkerPolicy()


@dataclass(frozen=True, slots=True)
class SettleReport:
    done: int
    aborted: int
    blocked: int  # credit notes whose base invoice was ABORTED: they cannot go until it is fixed
    pending: int

    @property
    def settled(self) -> bool:
        return self.pending == 0


# --- submit -----------------------------------------------------------------------------------


def submit_pending(
    session_factory: SessionFactory, client: NavClient, now: datetime, *, policy: WorkerPolicy = DEFAULT_POLICY
) -> int:
    """Recover unknown outcomes, then send due rows in batches. Returns the number of documents
    NAV acknowledged with a transaction id. Raises NavConfigError (after recording it)."""
    _recover(session_factory, client, now, policy)
    sent = 0
    while True:
        claim = _claim(session_factory, now, policy)
        if claim is None:
            return sent
        request_id, operations = claim
        try:
            transaction_id = client.manage_invoice(operations, request_id=request_id)
        except NavTechnicalError as exc:
            _record_failure(session_factory, request_id, now, policy, exc, lost=exc.maybe_delivered)
            return sent  # NAV is in trouble: let backoff pace the next attempt
        except NavConfigError as exc:
            _record_failure(session_factory, request_id, now, policy, exc, lost=False)
            raise
        _record_sent(session_factory, request_id, transaction_id)
        sent += len(operations)


def _claim(session_factory: SessionFactory, now: datetime, policy: WorkerPolicy):
    """Mark a batch SENDING under a fresh request id and commit it before any HTTP call."""
    base = aliased(NavOutbox)
    base_done = exists().where(and_(base.document_number == NavOutbox.base_document_number, base.status == "DONE"))
    query = (
        select(NavOutbox)
        .where(NavOutbox.status == "QUEUED", NavOutbox.next_attempt_at <= now)
        # MODIFY only after its base is DONE: NAV does not keep the order of asynchronous requests.
        .where((NavOutbox.operation == "CREATE") | base_done)
        .order_by(NavOutbox.id)
        .limit(policy.batch_size)
        # SKIP LOCKED (PostgreSQL): two workers never claim the same row and neither waits;
        # SQLite ignores it and serialises writers itself.
        .with_for_update(skip_locked=True, of=NavOutbox)
    )
    with session_factory() as session, session.begin():
        rows = list(session.scalars(query))
        if not rows:
            return None
        request_id = new_request_id()
        session.add(NavTransaction(
            request_id=request_id, kind="INVOICE", state="SENDING", sent_at=now,
            recover_after=now + policy.recovery_delay, document_numbers=[r.document_number for r in rows],
        ))
        session.flush()
        for index, row in enumerate(rows, start=1):
            row.status, row.request_id, row.op_index = "SENDING", request_id, index
            row.attempts += 1
        operations = [InvoiceOperation(r.operation, r.invoice_xml.encode("utf-8")) for r in rows]
    return request_id, operations


def _record_sent(session_factory: SessionFactory, request_id: str, transaction_id: str) -> None:
    with session_factory() as session, session.begin():
        transaction = session.scalar(select(NavTransaction).where(NavTransaction.request_id == request_id))
        transaction.state, transaction.transaction_id = "SENT", transaction_id
        for row in session.scalars(select(NavOutbox).where(NavOutbox.request_id == request_id,
                                                          NavOutbox.status == "SENDING")):
            row.status, row.transaction_id, row.last_error = "SENT", transaction_id, None


def _record_failure(
    session_factory: SessionFactory, request_id: str, now: datetime, policy: WorkerPolicy, exc: Exception,
    *, lost: bool,
) -> None:
    with session_factory() as session, session.begin():
        transaction = session.scalar(select(NavTransaction).where(NavTransaction.request_id == request_id))
        transaction.error = str(exc)[:2000]
        rows = list(session.scalars(select(NavOutbox).where(NavOutbox.request_id == request_id)))
        for row in rows:
            row.last_error = str(exc)[:2000]
        if lost:
            return  # stays SENDING: _recover decides after recover_after
        transaction.state = "FAILED"
        for row in rows:
            _requeue(row, now + _backoff(policy, row.attempts))


def _requeue(row: NavOutbox, when: datetime) -> None:
    assert row.transaction_id is None, "a document NAV holds is never queued again"
    row.status, row.request_id, row.op_index, row.next_attempt_at = "QUEUED", None, None, when


def _backoff(policy: WorkerPolicy, attempts: int) -> timedelta:
    return min(policy.max_delay, policy.base_delay * (2 ** max(0, attempts - 1)))


# --- recovery of unknown outcomes -------------------------------------------------------------


def _recover(session_factory: SessionFactory, client: NavClient, now: datetime, policy: WorkerPolicy) -> None:
    """For each request whose outcome is unknown and whose wait is over, ask NAV (FACTS §5)."""
    with session_factory() as session, session.begin():
        due = list(session.scalars(
            select(NavTransaction)
            .where(NavTransaction.state == "SENDING", NavTransaction.kind == "INVOICE",
                   NavTransaction.recover_after <= now)
            .order_by(NavTransaction.id)
            # Locked for the lookup so two workers do not both decide about the same request.
            .with_for_update(skip_locked=True)
        ))
        if not due:
            return
        known = set(session.scalars(select(NavTransaction.transaction_id).where(
            NavTransaction.transaction_id.is_not(None))))
        try:
            found = _nav_transactions_by_number(client, min(t.sent_at for t in due) - policy.lookback, now, known)
        except NavTechnicalError:
            return  # try again on the next run; nothing is resent meanwhile
        for transaction in due:
            _settle_lookup(session, transaction, found, now)


def _nav_transactions_by_number(
    client: NavClient, since: datetime, now: datetime, known: set[str]
) -> dict[str, tuple[str, int]]:
    """invoice number -> (transaction id, index) for NAV transactions we have no record of."""
    since = max(since, now - timedelta(days=35) + timedelta(minutes=1))  # NAV's window limit
    until = now + timedelta(minutes=10)  # NAV's clock may run ahead of ours
    found: dict[str, tuple[str, int]] = {}
    page, pages = 1, 1
    while page <= pages:
        listing = client.query_transaction_list(since, until, page=page)
        pages = listing.available_page
        for summary in sorted(listing.transactions, key=lambda t: t.ins_date):
            if summary.transaction_id in known or summary.technical_annulment:
                continue
            for result in client.query_transaction_status(summary.transaction_id, return_original_request=True):
                number = invoice_number_of(result.original_request or b"")
                if number:
                    found[number] = (summary.transaction_id, result.index)  # the newest wins
        page += 1
    return found


def _settle_lookup(session: Session, transaction: NavTransaction, found: dict[str, tuple[str, int]],
                   now: datetime) -> None:
    rows = list(session.scalars(select(NavOutbox).where(NavOutbox.request_id == transaction.request_id,
                                                        NavOutbox.status == "SENDING")))
    matches = {found[r.document_number][0] for r in rows if r.document_number in found}
    if matches:
        # NAV has it: adopt NAV's transaction and never send these documents again.
        transaction.state, transaction.transaction_id = "SENT", sorted(matches)[0]
        for row in rows:
            if row.document_number in found:
                row.status, row.transaction_id = "SENT", found[row.document_number][0]
                row.op_index = found[row.document_number][1]
            else:
                _requeue(row, now)
        return
    # NAV never got it (no transaction carries these numbers): resend at once, as FACTS §5 says.
    transaction.state = "NOT_FOUND"
    for row in rows:
        _requeue(row, now)


# --- poll -------------------------------------------------------------------------------------


def poll(session_factory: SessionFactory, client: NavClient) -> int:
    """Ask NAV about every transaction still in progress; returns how many rows became final."""
    with session_factory() as session:
        transaction_ids = sorted(set(session.scalars(
            select(NavOutbox.transaction_id).where(NavOutbox.status.in_(IN_NAV)))))
    finished = 0
    for transaction_id in transaction_ids:
        try:
            results = client.query_transaction_status(transaction_id)
        except NavTechnicalError:
            continue  # polled again next time; reporting is complete only once we see DONE
        with session_factory() as session, session.begin():
            rows = {r.op_index: r for r in session.scalars(select(NavOutbox).where(
                NavOutbox.transaction_id == transaction_id, NavOutbox.status.in_(IN_NAV)))}
            for result in results:
                row = rows.get(result.index)
                if row is None:
                    continue
                row.status = {"SAVED": "PROCESSING"}.get(result.status, result.status)
                row.messages = [m.to_json() for m in result.messages]
                if row.status == "ABORTED":
                    errors = [m for m in result.messages if m.level in ("ERROR", "CRITICAL")]
                    row.last_error = "; ".join(f"{m.code}: {m.message}" for m in errors) or "ABORTED by NAV"
                finished += row.status in FINAL
    return finished


# --- run until settled, report, annul ---------------------------------------------------------


def settle_report(session_factory: SessionFactory) -> SettleReport:
    with session_factory() as session:
        rows = list(session.scalars(select(NavOutbox)))
        by_number = {r.document_number: r.status for r in rows}
    done = sum(r.status == "DONE" for r in rows)
    aborted_count = sum(r.status == "ABORTED" for r in rows)
    blocked = sum(r.status == "QUEUED" and by_number.get(r.base_document_number) == "ABORTED" for r in rows)
    return SettleReport(done, aborted_count, blocked, len(rows) - done - aborted_count - blocked)


def run_until_settled(
    session_factory: SessionFactory,
    client: NavClient,
    timeout_s: float,
    *,
    policy: WorkerPolicy = DEFAULT_POLICY,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> SettleReport:
    """Submit and poll until every row is DONE or ABORTED (or blocked by an ABORTED base), or the
    timeout passes; the report says which. NavConfigError propagates: no retry can fix it."""
    deadline = time.monotonic() + timeout_s
    while True:
        submit_pending(session_factory, client, clock(), policy=policy)
        poll(session_factory, client)
        report = settle_report(session_factory)
        remaining = deadline - time.monotonic()
        if report.settled or remaining <= 0:
            return report
        sleep(min(policy.poll_interval_s, remaining))


def request_annulment(
    session_factory: SessionFactory, client: NavClient, number: str, code: str, reason: str,
    *, now: datetime | None = None,
) -> str:
    """Technical annulment of a DONE report (FACTS §8); a user must approve it in NAV's web UI.
    Returns NAV's transaction id. The request id is committed first, as for invoices."""
    now = now or utcnow()
    request_id = new_request_id()
    with session_factory() as session, session.begin():
        status = session.scalar(select(NavOutbox.status).where(NavOutbox.document_number == number))
        if status != "DONE":
            raise OutboxError(f"{number}: only a DONE report can be annulled (it is {status})")
        session.add(NavTransaction(request_id=request_id, kind="ANNULMENT", state="SENDING", sent_at=now,
                                   document_numbers=[number]))
    try:
        transaction_id = client.manage_annulment([(number, code, reason)], request_id=request_id)
    except (NavTechnicalError, NavConfigError) as exc:
        with session_factory() as session, session.begin():
            transaction = session.scalar(select(NavTransaction).where(NavTransaction.request_id == request_id))
            transaction.error = str(exc)[:2000]
            if not getattr(exc, "maybe_delivered", False):
                transaction.state = "FAILED"
        raise
    with session_factory() as session, session.begin():
        transaction = session.scalar(select(NavTransaction).where(NavTransaction.request_id == request_id))
        transaction.state, transaction.transaction_id = "SENT", transaction_id
    return transaction_id
