"""Quotas: what an account may use of each resource, and the only write path for its usage.

An account's limit for a resource is its plan's quota plus the bonuses granted to it. Usage and
bonuses live in one ``quota_usage`` row per account and resource; every change is a single
conditional UPDATE with a rowcount check, so concurrent requests cannot overshoot the limit or go
below zero, on SQLite and PostgreSQL alike.

These functions run in the caller's transaction and do not commit: commit to keep the change.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite

from portal.accounts.models import Account, QuotaBonus, QuotaUsage
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized
from portal.orgs.models import Organization
from portal.plugins import hook
from portal.timeutil import utcnow


@dataclass(frozen=True)
class Resource:
    key: str
    # A string, a lazy translation, or a mapping of locale -> string (plugins).
    label: object
    unit: object = ""


@dataclass(frozen=True)
class QuotaRow:
    resource: Resource
    limit: int
    used: int
    # What of ``limit`` comes from bonuses (the rest is the plan's).
    bonus: int = 0

    @property
    def plan(self) -> int:
        return self.limit - self.bonus

    @property
    def left(self) -> int:
        # An operator may have lowered a plan below what is already in use.
        return max(self.limit - self.used, 0)


class QuotaExceeded(ValueError):
    """A usage change that would go over the limit or below zero; nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


CORE_RESOURCES = (
    Resource("projects", _l("Projects")),
    Resource("containers", _l("Container instances")),
    Resource("services", _l("Service instances")),
)


def resources() -> list[Resource]:
    """The core's resources, then those plugins add through ``portal_quota_resources``."""
    found = {r.key: r for r in CORE_RESOURCES}
    for extra in hook().portal_quota_resources():
        for resource in extra or ():
            found.setdefault(resource.key, resource)
    return list(found.values())


def find_resource(key: str) -> Resource:
    for candidate in resources():
        if candidate.key == key:
            return candidate
    raise QuotaExceeded(_("Unknown resource %(key)s.", key=key))


def _insert_ignoring_duplicates(model, rows: list[dict]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING: the unique key decides, whoever comes second.

    Returns how many rows were inserted (RETURNING, as drivers disagree on rowcount here)."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    table = model.__table__
    statement = insert(table).values(rows).on_conflict_do_nothing().returning(table.c.id)
    return len(db.session.execute(statement).all())


def ensure_rows(account_id: int) -> None:
    """Create the account's usage rows for every known resource (idempotent, race-free)."""
    _insert_ignoring_duplicates(
        QuotaUsage,
        [{"account_id": account_id, "resource": r.key, "used": 0, "bonus": 0} for r in resources()],
    )


def _plan_quota(account_id: int, resource_key: str) -> int:
    from portal.accounts.plans import plan

    # A deleted organization's account is kept for audit but can take nothing more.
    plan_key = db.session.scalar(
        db.select(Account.plan_key)
        .outerjoin(Organization, Organization.id == Account.org_id)
        .where(Account.id == account_id, Organization.deleted_at.is_(None))
    )
    if plan_key is None:
        raise QuotaExceeded(_("No such account."))
    return plan(plan_key).quota(resource_key)


def _usage(account_id: int, resource_key: str) -> QuotaUsage:
    return db.session.scalars(
        db.select(QuotaUsage)
        .filter_by(account_id=account_id, resource=resource_key)
        .execution_options(populate_existing=True)
    ).one()


def _update_usage(account_id: int, resource_key: str, *conditions, **values) -> int:
    """Set ``values`` on the account's usage row of ``resource_key`` if ``conditions`` hold; returns
    how many rows changed (0 or 1), so a check and its change are one statement."""
    return db.session.execute(
        db.update(QuotaUsage)
        .where(QuotaUsage.account_id == account_id, QuotaUsage.resource == resource_key, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise QuotaExceeded(_("The amount must be a whole number above zero."))


def lock_account(account_id: int) -> None:
    """Serialize changes to one account's plan and usage until the transaction ends.

    A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so a plan
    downgrade and a reservation cannot each check against what the other is about to change."""
    db.session.execute(
        db.update(Account).where(Account.id == account_id).values(plan_key=Account.plan_key)
        .execution_options(synchronize_session=False)
    )


def use(account_id: int, resource: str, amount: int = 1) -> int:
    """Take ``amount`` units of ``resource``; returns the new usage or raises QuotaExceeded."""
    _check_amount(amount)
    label = localized(find_resource(resource).label)
    lock_account(account_id)
    plan_quota = _plan_quota(account_id, resource)
    ensure_rows(account_id)
    changed = _update_usage(
        account_id, resource, QuotaUsage.used + amount <= plan_quota + QuotaUsage.bonus,
        used=QuotaUsage.used + amount,
    )
    row = _usage(account_id, resource)
    if changed != 1:
        raise QuotaExceeded(
            _(
                "Not enough %(resource)s quota: %(left)d left, %(amount)d asked for.",
                resource=label,
                left=max(plan_quota + row.bonus - row.used, 0),
                amount=amount,
            )
        )
    return row.used


def release(account_id: int, resource: str, amount: int = 1) -> int:
    """Give back ``amount`` units; returns the new usage. Never goes below zero (raises instead)."""
    _check_amount(amount)
    label = localized(find_resource(resource).label)
    ensure_rows(account_id)
    changed = _update_usage(account_id, resource, QuotaUsage.used >= amount, used=QuotaUsage.used - amount)
    row = _usage(account_id, resource)
    if changed != 1:
        raise QuotaExceeded(
            _(
                "Cannot release %(amount)d %(resource)s: only %(used)d in use.",
                amount=amount,
                resource=label,
                used=row.used,
            )
        )
    return row.used


def set_usage(account_id: int, resource: str, used: int) -> int:
    """Operators: overwrite the recorded usage (after a reconciliation). Not limited by the quota."""
    find_resource(resource)
    if isinstance(used, bool) or not isinstance(used, int) or used < 0:
        raise QuotaExceeded(_("Usage must be a whole number, zero or more."))
    ensure_rows(account_id)
    _update_usage(account_id, resource, used=used)
    return _usage(account_id, resource).used


def grant_bonus(account_id: int, grants: dict[str, int], reason: str, key: str) -> bool:
    """Add quota on top of the plan, once per ``key`` forever.

    Returns False, granting nothing, when ``key`` was used before (a retry, or a concurrent grant
    that got there first)."""
    if not grants:
        raise QuotaExceeded(_("A bonus needs at least one resource."))
    for resource_key, amount in grants.items():
        find_resource(resource_key)
        _check_amount(amount)
    if not key or len(key) > 128:
        raise QuotaExceeded(_("A bonus needs a key of at most 128 characters."))
    inserted = _insert_ignoring_duplicates(
        QuotaBonus,
        [{"key": key, "account_id": account_id, "grants": dict(grants), "reason": reason[:255],
          "created_at": utcnow()}],
    )
    if inserted != 1:
        return False
    ensure_rows(account_id)
    for resource_key, amount in grants.items():
        _update_usage(account_id, resource_key, bonus=QuotaUsage.bonus + amount)
    return True


def quota_table(account: Account) -> list[QuotaRow]:
    """One row per resource: limit (plan + bonuses), used, left. One query."""
    from portal.accounts.plans import plan

    account_plan = plan(account.plan_key)
    stored = {
        row.resource: row
        for row in db.session.scalars(
            db.select(QuotaUsage)
            .filter_by(account_id=account.id)
            .execution_options(populate_existing=True)
        )
    }
    rows = []
    for r in resources():
        usage = stored.get(r.key)
        bonus, used = (usage.bonus, usage.used) if usage else (0, 0)
        rows.append(QuotaRow(r, account_plan.quota(r.key) + bonus, used, bonus))
    return rows
