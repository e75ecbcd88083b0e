"""Plans (套餐): a name, a monthly price in fen and a quota per resource, defined by operators.

``PLANS`` in the config maps a plan key to its settings::

    PLANS = {
        "standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 9900,
                     "quotas": {"projects": 20, "containers": 50, "services": 20}},
        "weekly": {"name": "Weekly", "price_fen": 2500, "period_days": 7, "quotas": {...}},
    }

The free "trial" plan always exists and every new account starts on it; operators may change its
name and quotas, never its price. A resource a plan does not mention has a quota of zero. A paid plan
is charged for a period (a calendar month unless ``period_days`` says otherwise) and renews
(portal.accounts.renewals).

Changing plans: between free plans, at once. To a paid plan from a free one: at once, charging the
full price for a new period. To a dearer paid plan: at once, charging the difference of the prices for
the part of the period that is left (rounded up to the fen). To a cheaper plan: when the period ends,
with no refund to the balance.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from portal.accounts.access import can_manage
from portal.accounts.formatting import yuan
from portal.accounts.models import Account, PlanChange
from portal.config import ConfigError
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized

TRIAL = "trial"
TRIAL_QUOTAS = {"projects": 3, "containers": 5, "services": 3}
PLAN_KEY = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")


@dataclass(frozen=True)
class Plan:
    key: str
    # A string, a lazy translation, or a mapping of locale -> string.
    name: object
    price_fen: int = 0
    quotas: dict[str, int] = field(default_factory=dict)
    # None: a calendar month.
    period_days: int | None = None

    def quota(self, resource: str) -> int:
        return self.quotas.get(resource, 0)

    @property
    def is_free(self) -> bool:
        return self.price_fen == 0

    def period_end(self, start: datetime) -> datetime:
        if self.period_days:
            return start + timedelta(days=self.period_days)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


class PlanError(ValueError):
    """A plan change that cannot happen; ``message`` says why. Nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _whole(value, what: str) -> int:
    # bool is an int in Python, and floats have no place in money or counts.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"PLANS: {what} must be a whole number, zero or more (got {value!r}).")
    return value


def plans_from_config(config) -> list[Plan]:
    """Read and check ``PLANS``; raises ConfigError naming the bad setting."""
    configured = dict(config.get("PLANS") or {})
    trial = configured.pop(TRIAL, {}) or {}
    if trial.get("price_fen", 0) != 0:
        raise ConfigError("PLANS: the trial plan is always free; remove its price_fen.")
    result = [
        Plan(TRIAL, trial.get("name") or _l("Trial"), 0,
             {k: _whole(v, f"trial quota {k}") for k, v in (trial.get("quotas") or TRIAL_QUOTAS).items()})
    ]
    for key, settings in configured.items():
        if not PLAN_KEY.match(key):
            raise ConfigError(f"PLANS: plan key {key!r} must be lowercase a-z, 0-9, _ or -, at most 32.")
        if not settings.get("name"):
            raise ConfigError(f"PLANS: plan {key!r} needs a name.")
        quotas = settings.get("quotas") or {}
        period_days = settings.get("period_days")
        if period_days is not None and _whole(period_days, f"{key} period_days") == 0:
            raise ConfigError(f"PLANS: {key} period_days must be at least 1.")
        result.append(
            Plan(
                key,
                settings["name"],
                _whole(settings.get("price_fen", 0), f"{key} price_fen"),
                {k: _whole(v, f"{key} quota {k}") for k, v in quotas.items()},
                period_days,
            )
        )
    return result


def plans() -> list[Plan]:
    """Every plan, trial first, in the order the config gives them."""
    return plans_from_config(current_app.config)


def plan(key: str) -> Plan:
    """The plan ``key``; an account on a plan an operator removed is treated as on trial."""
    by_key = {p.key: p for p in plans()}
    return by_key.get(key) or by_key[TRIAL]


# What a plan change does (Quote.kind).
AT_ONCE, NEW_PERIOD, UPGRADE, AT_PERIOD_END = "at_once", "new_period", "upgrade", "at_period_end"


@dataclass(frozen=True)
class Quote:
    """What choosing ``target`` would do now: shown on the confirmation step, then applied."""

    current: Plan
    target: Plan
    kind: str
    charge_now_fen: int
    balance_after_fen: int
    # When the new plan applies, and when (and for how much) the account is next charged.
    applies_at: datetime
    renews_at: datetime | None
    renewal_fen: int


def quote(account: Account, plan_key: str, now: datetime | None = None) -> Quote:
    """What moving ``account`` to ``plan_key`` costs and when it applies; PlanError when it cannot."""
    from portal import timeutil

    now = now or timeutil.utcnow()
    target = {p.key: p for p in plans()}.get(plan_key)
    if target is None:
        raise PlanError(_("There is no such plan."))
    current = plan(account.plan_key)
    if plan_key == account.plan_key:
        raise PlanError(_("The account is already on the %(plan)s plan.", plan=localized(target.name)))
    in_period = not current.is_free and account.plan_renews_at is not None and account.plan_renews_at > now
    if target.is_free and current.is_free:
        kind, charge, applies_at, renews_at = AT_ONCE, 0, now, None
    elif in_period and target.price_fen > current.price_fen:
        left = (account.plan_renews_at - now).total_seconds()
        length = (account.plan_renews_at - account.plan_period_start).total_seconds() or left
        difference = target.price_fen - current.price_fen
        # Integer fen, rounded up: the seconds are whole, so this is exact integer arithmetic.
        charge = -(-difference * int(left) // max(int(length), 1))
        kind, applies_at, renews_at = UPGRADE, now, account.plan_renews_at
    elif in_period:
        kind, charge, applies_at, renews_at = AT_PERIOD_END, 0, account.plan_renews_at, account.plan_renews_at
    elif target.is_free:
        kind, charge, applies_at, renews_at = AT_ONCE, 0, now, None
    else:
        kind, charge, applies_at, renews_at = NEW_PERIOD, target.price_fen, now, target.period_end(now)
    return Quote(current, target, kind, charge, account.balance_fen - charge, applies_at, renews_at,
                 0 if target.is_free else target.price_fen)


def change_plan(account: Account, plan_key: str, actor, now: datetime | None = None) -> PlanChange:
    """Move ``account`` to ``plan_key`` as ``quote`` says, recording who did it. Commits.

    What is charged goes through the ledger in the same transaction. A cheaper plan is scheduled
    for the period's end (``Account.next_plan_key``). Raises PlanError when the actor may not, the
    plan is unknown or current, the balance is short, or current usage would not fit;
    ``portal.realname.guard.IdentityRequired`` when a paid plan needs a verified identity the account lacks."""
    from portal import timeutil
    from portal.accounts.quotas import lock_account, quota_table

    now = now or timeutil.utcnow()
    if not can_manage(account, actor):
        raise PlanError(_("Only owners and admins can change the plan."))
    if plan_key in {p.key for p in plans()} and not plan(plan_key).is_free:
        # Buying a paid plan may need a verified identity (实名认证); raises IdentityRequired.
        from portal.realname.guard import PAID_PLAN, require_verified_identity

        require_verified_identity(account, PAID_PLAN)
    # Usage and the period are read under the account's lock, so no reservation or other change
    # slips in before the switch.
    lock_account(account.id)
    db.session.refresh(account)
    try:
        offer = quote(account, plan_key, now)
    except PlanError:
        db.session.rollback()
        raise
    target = offer.target
    for row in quota_table(account):
        bonus = row.limit - plan(account.plan_key).quota(row.resource.key)
        if row.used > target.quota(row.resource.key) + bonus:
            db.session.rollback()
            raise PlanError(
                _(
                    "The account uses %(used)d %(resource)s, more than the %(plan)s plan allows.",
                    used=row.used,
                    resource=localized(row.resource.label),
                    plan=localized(target.name),
                )
            )
    from_plan = account.plan_key
    values = {"next_plan_key": plan_key} if offer.kind == AT_PERIOD_END else {"plan_key": plan_key, "next_plan_key": None}
    if offer.kind == NEW_PERIOD:
        values.update(plan_period_start=now, plan_renews_at=offer.renews_at, grace_until=None)
    elif offer.kind == AT_ONCE:
        values.update(plan_period_start=None, plan_renews_at=None, grace_until=None)
    # Conditional on the plan we checked against, so two concurrent changes cannot both apply.
    result = db.session.execute(
        db.update(Account)
        .where(Account.id == account.id, Account.plan_key == from_plan)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise PlanError(_("The plan was changed by someone else meanwhile; please try again."))
    change = PlanChange(
        account_id=account.id, from_plan=from_plan, to_plan=plan_key,
        price_fen=offer.charge_now_fen, actor_id=actor.id, created_at=now, effective_at=offer.applies_at,
    )
    db.session.add(change)
    if offer.charge_now_fen:
        from portal.billing import ledger

        db.session.flush()
        try:
            ledger.debit(account.id, offer.charge_now_fen, "plan_charge", reference=f"plan_change:{change.id}")
        except ledger.InsufficientBalance:
            db.session.rollback()
            raise PlanError(
                _(
                    "The %(plan)s plan costs %(price)s and the balance is %(balance)s: recharge first.",
                    plan=localized(target.name),
                    price=yuan(offer.charge_now_fen),
                    balance=yuan(db.session.get(Account, account.id).balance_fen),
                )
            ) from None
    from portal.security_log import record

    record("plan_changed", user_id=account.user_id, org_id=account.org_id, actor=actor,
           details={"from": from_plan, "to": plan_key, "charged_fen": offer.charge_now_fen, "when": offer.kind})
    db.session.commit()
    db.session.refresh(account)
    return change


def cancel_scheduled_change(account: Account, actor) -> bool:
    """Keep the current plan after all: forget the cheaper plan chosen for the period's end."""
    if not can_manage(account, actor):
        raise PlanError(_("Only owners and admins can change the plan."))
    result = db.session.execute(
        db.update(Account).where(Account.id == account.id, Account.next_plan_key.is_not(None))
        .values(next_plan_key=None).execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(account)
    return result.rowcount == 1


def plan_history(account: Account, limit: int = 20) -> list[PlanChange]:
    return list(
        db.session.scalars(
            db.select(PlanChange)
            .filter_by(account_id=account.id)
            .order_by(PlanChange.id.desc())
            .limit(limit)
            .options(db.joinedload(PlanChange.actor))
        )
    )
