"""Plans and their price versions (a later price takes effect 30 days after its announcement)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.dates import budapest_today
from billing.db.models import CycleRun, Plan, PlanPrice
from billing.errors import Conflict
from billing.money import fmt
from schemas.api import PlanIn

NOTICE_DAYS = 30


def business_today(session: Session) -> date:
    """The service's idea of today: the last day the cycle ran through, else the Budapest date."""
    last = session.scalar(select(func.max(CycleRun.until)))
    return last or budapest_today()


def plan_json(plan: Plan, versions: list[PlanPrice]) -> dict:
    current = versions[-1]
    return {
        "code": plan.code, "name": plan.name, "currency": plan.currency,
        "monthly_seat_price": fmt(current.monthly_seat_price, plan.currency),
        "discount_percent": str(current.discount_percent.normalize() if current.discount_percent else 0),
        "prices_include_vat": current.prices_include_vat,
        "prices": [{"monthly_seat_price": fmt(v.monthly_seat_price, plan.currency),
                    "discount_percent": str(v.discount_percent.normalize() if v.discount_percent else 0),
                    "prices_include_vat": v.prices_include_vat,
                    "announced_on": v.announced_on.isoformat() if v.announced_on else None,
                    "effective_from": v.effective_from.isoformat() if v.effective_from else None}
                   for v in versions],
    }


def define_plan(session: Session, body: PlanIn) -> tuple[dict, bool]:
    """Returns (plan, created). The same definition again changes nothing."""
    plan = session.get(Plan, body.code, with_for_update=True)
    if plan is None:
        plan = Plan(code=body.code, name=body.name, currency=body.currency)
        session.add(plan)
        session.add(PlanPrice(plan_code=body.code, monthly_seat_price=body.monthly_seat_price,
                              discount_percent=body.discount_percent,
                              prices_include_vat=body.prices_include_vat, announced_on=body.announced_on,
                              effective_from=None))
        session.flush()
        return plan_json(plan, versions_of(session, body.code)), True
    if plan.currency != body.currency:
        raise Conflict(f"plan {body.code} is priced in {plan.currency}; a new currency needs a new plan",
                       {"errors": [{"field": "currency", "message": "differs from the existing plan"}]})
    versions = versions_of(session, body.code)
    latest = versions[-1]
    same = (latest.monthly_seat_price == body.monthly_seat_price and latest.discount_percent == body.discount_percent
            and latest.prices_include_vat == body.prices_include_vat)
    plan.name = body.name
    if same:
        return plan_json(plan, versions), False
    announced = body.announced_on or business_today(session)
    session.add(PlanPrice(plan_code=body.code, monthly_seat_price=body.monthly_seat_price,
                          discount_percent=body.discount_percent, prices_include_vat=body.prices_include_vat,
                          announced_on=announced, effective_from=announced + timedelta(days=NOTICE_DAYS)))
    session.flush()
    return plan_json(plan, versions_of(session, body.code)), True


def versions_of(session: Session, code: str) -> list[PlanPrice]:
    return list(session.scalars(select(PlanPrice).where(PlanPrice.plan_code == code).order_by(PlanPrice.id)))
