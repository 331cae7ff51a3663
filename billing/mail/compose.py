"""A claimed outbox row as the e-mail that is sent: headers (its stable Message-ID), the plain text
and HTML alternatives, and for a document's message its PDF in the account's language, rendered
now from the stored document (never at decision time: the cycle stays fast)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import quote, urlencode

from billing.mail.render import Rendered, Sender, render
from invoices.documents import Document

ATTACHED = frozenset({"proforma_issued", "invoice_issued", "credit_note_issued", "correction_issued"})


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row as claimed for one attempt (`attempts` counts this one and is the claim's token)."""
    id: int
    account_id: str
    key: str
    kind: str
    day: date
    document: str | None
    to: str | None
    locale: str
    params: dict[str, str]
    message_id: str
    attempts: int


def message_id_for(account_id: str, key: str, mail_from: str) -> str:
    """Derived from what the message is about, so every attempt of it carries the same one."""
    digest = hashlib.sha256(f"{account_id}\n{key}".encode()).hexdigest()[:40]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "billing.invalid"
    return f"<{digest}@{domain}>"


def portal_link(public_url: str, account_id: str, token: str, locale: str) -> str:
    query = urlencode({"token": token, "lang": locale})
    return f"{public_url.rstrip('/')}/portal/{quote(account_id, safe='')}?{query}"


def sender_for(claimed: Claimed, doc: Document | None, seller_name: str, seller_bank: str | None,
               link: str | None) -> Sender:
    # A document's own seller block names the account to pay into, as its PDF does.
    bank = doc.seller.bank_account if doc is not None and doc.seller.bank_account else seller_bank
    return Sender(doc.seller.name if doc is not None else seller_name, bank, link)


def compose(claimed: Claimed, sender: Sender, mail_from: str, now: datetime,
            pdf: bytes | None = None) -> EmailMessage:
    texts: Rendered = render(claimed.kind, claimed.params, claimed.locale, sender, claimed.account_id)
    message = EmailMessage(policy=SMTP)  # CRLF line ends, as smtplib sends them
    message["From"] = mail_from
    message["To"] = Address(addr_spec=claimed.to) if claimed.to else ""
    message["Subject"] = texts.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = claimed.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Billing-Message"] = f"{claimed.id:08d}-{claimed.kind}"
    message.set_content(texts.text)
    message.add_alternative(texts.html, subtype="html")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{claimed.document}.pdf")
    message["Content-Language"] = claimed.locale  # after the parts: making them moves Content-* headers down
    return message
