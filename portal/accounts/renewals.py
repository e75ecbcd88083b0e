"""Paid plans renew every period: ``portal plans renew`` (cron, safe to run on several machines at
once) charges each account whose period ended, exactly once per period.

A renewal inserts the period's ``PlanRenewal`` row (unique per account and period start) and debits
the ledger in one transaction, so a second job racing it fails on the row and charges nothing. A plan
chosen for the period's end (a downgrade) starts here. When the balance is short the account enters a
grace period (PLAN_GRACE_DAYS, default 3) and its managers are told; the job keeps trying; once grace
is over the account falls back to trial: usage above the trial quotas is kept, but no new units can be
reserved until it fits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal import timeutil
from portal.accounts.models import Account, PlanChange, PlanRenewal
from portal.accounts.plans import TRIAL, plan
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized

log = logging.getLogger(__name__)

DEFAULT_GRACE_DAYS = 3


@dataclass
class Report:
    renewed: int = 0
    switched: int = 0
    in_grace: int = 0
    fell_back: int = 0
    problems: list[str] = field(default_factory=list)


def grace_period() -> timedelta:
    return timedelta(days=int(current_app.config.get("PLAN_GRACE_DAYS", DEFAULT_GRACE_DAYS)))


def renew_due(now: datetime | None = None, limit: int = 500) -> Report:
    """Renew (or switch, or fall back) every account whose paid period has ended."""
    now = now or timeutil.utcnow()
    report = Report()
    due = list(db.session.scalars(
        db.select(Account.id).where(Account.plan_renews_at <= now, Account.closed_at.is_(None))
        .order_by(Account.plan_renews_at).limit(limit)
    ))
    for account_id in due:
        try:
            renew(account_id, now, report)
        except Exception as exc:  # noqa: BLE001 - one account's failure must not stop the others
            db.session.rollback()
            log.exception("renewal of account %s failed", account_id)
            report.problems.append(f"account {account_id}: {exc}")
    return report


def renew(account_id: int, now: datetime, report: Report) -> None:
    from portal.billing import ledger

    account = db.session.get(Account, account_id)
    db.session.refresh(account)
    period_start = account.plan_renews_at
    if period_start is None or period_start > now:
        return  # another job renewed it meanwhile
    target = plan(account.next_plan_key or account.plan_key)
    if target.is_free:
        if _move(account, period_start, plan_key=target.key, plan_period_start=None, plan_renews_at=None,
                 next_plan_key=None, grace_until=None):
            _record_change(account, target.key, now)
            db.session.commit()
            report.switched += 1
        return
    period_end = target.period_end(period_start)
    try:
        db.session.add(PlanRenewal(account_id=account.id, plan_key=target.key, period_start=period_start,
                                   period_end=period_end, price_fen=target.price_fen, created_at=now))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return  # this period was charged by another job
    try:
        ledger.debit(account.id, target.price_fen, "plan_charge",
                     reference=f"renewal:{account.id}:{period_start:%Y%m%d%H%M%S}")
    except ledger.InsufficientBalance:
        db.session.rollback()
        _short(account, period_start, now, report)
        return
    switched = account.next_plan_key is not None and account.next_plan_key != account.plan_key
    if not _move(account, period_start, plan_key=target.key, plan_period_start=period_start,
                 plan_renews_at=period_end, next_plan_key=None, grace_until=None):
        db.session.rollback()
        return
    if switched:
        _record_change(account, target.key, now)
    db.session.commit()
    report.renewed += 1


def _move(account: Account, period_start: datetime, **values) -> bool:
    """Change the account, on condition that its period is still the one we read."""
    result = db.session.execute(
        db.update(Account).where(Account.id == account.id, Account.plan_renews_at == period_start)
        .values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _record_change(account: Account, to_plan: str, now: datetime) -> None:
    db.session.add(PlanChange(account_id=account.id, from_plan=account.plan_key, to_plan=to_plan,
                              price_fen=0, actor_id=None, created_at=now, effective_at=now))


def _short(account: Account, period_start: datetime, now: datetime, report: Report) -> None:
    """The balance cannot pay the renewal: start the grace period, or end it by falling back to trial."""
    if account.grace_until is None:
        grace_until = period_start + grace_period()
        if _move(account, period_start, grace_until=grace_until):
            db.session.commit()
            report.in_grace += 1
            _tell_managers(account, _l(
                "The balance cannot pay the renewal of the %(plan)s plan (%(price)s). Recharge before "
                "%(deadline)s, or the account returns to the free trial plan.",
                plan=localized(plan(account.next_plan_key or account.plan_key).name), price=_yuan(account),
                deadline=f"{grace_until:%Y-%m-%d %H:%M} UTC"))
        return
    if account.grace_until > now:
        report.in_grace += 1
        return
    if _move(account, period_start, plan_key=TRIAL, plan_period_start=None, plan_renews_at=None,
             next_plan_key=None, grace_until=None):
        _record_change(account, TRIAL, now)
        db.session.commit()
        report.fell_back += 1
        _tell_managers(account, _l(
            "The renewal could not be paid, so the account is back on the free trial plan. Usage above "
            "its quotas is kept, but nothing new can be created until it fits or a plan is bought again."))


def _yuan(account: Account) -> str:
    from portal.accounts.formatting import yuan

    return yuan(plan(account.next_plan_key or account.plan_key).price_fen)


def _tell_managers(account: Account, what) -> None:
    """Owners and admins (or the person) hear what happened to the account's plan."""
    from portal.notices import send_account_notice

    from portal.accounts.access import managers

    for user in managers(account):
        send_account_notice(user, what)
