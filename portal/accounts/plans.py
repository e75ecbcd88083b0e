"""Plans (套餐): a name, a monthly price in fen and a quota per resource, defined by operators.

``PLANS`` in the config maps a plan key to its settings::

    PLANS = {
        "standard": {"name": {"zh_CN": "标准版", "en": "Standard"}, "price_fen": 9900,
                     "quotas": {"projects": 20, "containers": 50, "services": 20}},
    }

The free "trial" plan always exists and every new account starts on it; operators may change its
name and quotas, never its price. A resource a plan does not mention has a quota of zero.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

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

    def quota(self, resource: str) -> int:
        return self.quotas.get(resource, 0)

    @property
    def is_free(self) -> bool:
        return self.price_fen == 0


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
        result.append(
            Plan(
                key,
                settings["name"],
                _whole(settings.get("price_fen", 0), f"{key} price_fen"),
                {k: _whole(v, f"{key} quota {k}") for k, v in quotas.items()},
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


def change_plan(account: Account, plan_key: str, actor) -> PlanChange:
    """Move ``account`` to ``plan_key`` at once, recording who did it. Commits.

    A paid plan's price is charged to the account's balance through the ledger, in the same
    transaction. Raises PlanError when the actor may not, the plan is unknown or current, the
    balance is short, or current usage would not fit."""
    from portal.accounts.quotas import lock_account, quota_table

    if not can_manage(account, actor):
        raise PlanError(_("Only owners and admins can change the plan."))
    by_key = {p.key: p for p in plans()}
    target = by_key.get(plan_key)
    if target is None:
        raise PlanError(_("There is no such plan."))
    if plan_key == account.plan_key:
        raise PlanError(_("The account is already on the %(plan)s plan.", plan=localized(target.name)))
    # Usage is checked under the account's lock, so no reservation slips in before the switch.
    lock_account(account.id)
    for row in quota_table(account):
        bonus = row.limit - plan(account.plan_key).quota(row.resource.key)
        if row.used > target.quota(row.resource.key) + bonus:
            raise PlanError(
                _(
                    "The account uses %(used)d %(resource)s, more than the %(plan)s plan allows.",
                    used=row.used,
                    resource=localized(row.resource.label),
                    plan=localized(target.name),
                )
            )
    from_plan = account.plan_key
    # Conditional on the plan we checked against, so two concurrent changes cannot both apply.
    result = db.session.execute(
        db.update(Account)
        .where(Account.id == account.id, Account.plan_key == from_plan)
        .values(plan_key=plan_key)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise PlanError(_("The plan was changed by someone else meanwhile; please try again."))
    change = PlanChange(
        account_id=account.id, from_plan=from_plan, to_plan=plan_key,
        price_fen=target.price_fen, actor_id=actor.id,
    )
    db.session.add(change)
    if not target.is_free:
        from portal.billing import ledger

        db.session.flush()
        try:
            ledger.debit(account.id, target.price_fen, "plan_charge", reference=f"plan_change:{change.id}")
        except ledger.InsufficientBalance:
            db.session.rollback()
            raise PlanError(
                _(
                    "The %(plan)s plan costs %(price)s and the balance is %(balance)s: recharge first.",
                    plan=localized(target.name),
                    price=yuan(target.price_fen),
                    balance=yuan(db.session.get(Account, account.id).balance_fen),
                )
            ) from None
    db.session.commit()
    db.session.refresh(account)
    return change


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
