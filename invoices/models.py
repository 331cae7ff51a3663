"""Tables owned by invoices/: the document number counters and the MNB exchange-rate cache."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.base import Base, DecimalText


class NumberSeries(Base):
    """The last number issued in one series (PRO, INV, CRN) and year; the next is last_value + 1."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ExchangeRateRow(Base):
    """The MNB rate that applies on `day` (HUF per 1 unit), published on `published_on` (≤ day)."""

    __tablename__ = "exchange_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(DecimalText(), nullable=False)
    published_on: Mapped[date] = mapped_column(Date, nullable=False)
