"""A message's subject, plain text and HTML in the account's language, from the catalogs (context
`mail`, billing/locale) and the params the decision stored: amounts and dates formatted for the
locale by Babel (invoices/i18n.py), as on the PDFs. Pure: the same inputs give the same texts."""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.locale.catalog import words
from invoices.i18n import fmt_date, fmt_money, normalize_locale

MONEY = frozenset({"amount", "refund", "debt"})
DATES = frozenset({"issue_date", "due_date", "day", "conversion_day", "trial_ends_on", "suspension_day",
                   "terminated_on", "due_by"})
ASKS_FOR_PAYMENT = frozenset({"proforma_issued", "payment_reminder", "overdue", "suspended"})


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Sender:
    """What the texts name beside the params: who sends, where to pay, the portal link."""
    seller: str
    bank_account: str | None
    link: str | None  # the customer portal, whose pay button starts a card payment


def formatted(params: dict[str, str], locale: str) -> dict[str, str]:
    currency = params.get("currency", "HUF")
    values = {}
    for name, value in params.items():
        if name in MONEY:
            values[name] = fmt_money(Decimal(value), currency, locale)
        elif name in DATES:
            values[name] = fmt_date(date.fromisoformat(value), locale)
        else:
            values[name] = value
    if "amount" not in values and ("refund" in values or "debt" in values):  # a termination's texts say {amount}
        values["amount"] = values.get("refund") or values["debt"]
    return values


def paragraphs(kind: str, params: dict[str, str], sender: Sender) -> list[str]:
    """The keys of the body's paragraphs, in order."""
    keys = [f"{kind}.body"]
    if kind == "overdue" and "suspension_day" in params:
        keys.append("overdue.expiry" if params.get("consequence") == "expiry" else "overdue.suspension")
    if kind == "terminated":
        keys.append("terminated.refund" if "refund" in params else
                    "terminated.debt" if "debt" in params else "terminated.settled")
        if "debt" in params and sender.bank_account:
            keys.append("bank_transfer_debt")
    if kind in ASKS_FOR_PAYMENT:
        if sender.bank_account and params.get("number"):
            keys.append("pay_transfer")
        if sender.link:
            keys.append("pay_card")
    return keys


def render(kind: str, params: dict[str, str], locale: str, sender: Sender, account_id: str) -> Rendered:
    loc = normalize_locale(locale)
    texts = words(loc, "mail")
    values = {**formatted(params, loc), "seller": sender.seller, "bank_account": sender.bank_account or "",
              "link": sender.link or "", "account_id": account_id}
    keys = ["greeting", *paragraphs(kind, params, sender), "signature", "automatic"]
    subject = _header_text(texts[f"{kind}.subject"].format(**values))
    plain = "\n\n".join(texts[key].format(**values) for key in keys) + "\n"
    return Rendered(subject, plain, _html(texts, keys, values, subject, loc))


def _html(texts: dict[str, str], keys: list[str], values: dict[str, str], subject: str, loc: str) -> str:
    escaped = {name: html.escape(value) for name, value in values.items()}
    body = []
    for key in keys:
        if key == "pay_card":  # a button, in the portal's own words
            button = html.escape(words(loc, "portal").get("pay_by_card", "pay_by_card"))
            body.append(f'<p><a href="{escaped["link"]}" style="display:inline-block;padding:10px 18px;'
                        f'background:#1f5fbf;color:#ffffff;text-decoration:none;border-radius:4px">{button}</a></p>')
            continue
        text = html.escape(texts[key]).format(**escaped).replace("\n", "<br>")
        style = ' style="color:#666666;font-size:12px"' if key == "automatic" else ""
        body.append(f"<p{style}>{text}</p>")
    return (f'<!DOCTYPE html><html lang="{loc}"><head><meta charset="utf-8"><title>{html.escape(subject)}</title>'
            f'</head><body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222222;'
            f'max-width:600px">{"".join(body)}</body></html>\n')


def subject(kind: str, params: dict[str, str], locale: str) -> str:
    """The subject alone (the messages list shows it without rendering the body)."""
    loc = normalize_locale(locale)
    return _header_text(words(loc, "mail")[f"{kind}.subject"].format(**formatted(params, loc)))


def _header_text(text: str) -> str:
    """Babel's no-break spaces (10 312 Ft) as plain ones: the standard library's header folder
    drops a no-break space at the seam of two encoded words, and a subject reads the same."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")
