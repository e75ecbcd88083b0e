"""What a key may act on: its scopes, the account it is limited to, and what its creator may do with
that account right now (membership and roles can change at any time, so nothing is cached)."""
from __future__ import annotations

from flask import g

from portal.accounts.access import member_role
from portal.accounts.models import Account
from portal.accounts.services import accounts_of
from portal.api.errors import ApiError
from portal.apikeys.models import ApiKey
from portal.extensions import db
from portal.ids import MAX_ID
from portal.i18n import gettext as _

MANAGER_ROLES = ("owner", "admin")


def current_key() -> ApiKey:
    return g.api_key


def require_scope(scope: str) -> None:
    key = current_key()
    if scope not in key.scope_set:
        raise ApiError(403, "insufficient_scope", _(
            "This API key lacks the %(scope)s permission; create a key that has it.", scope=scope))


def visible_accounts() -> list[tuple[Account, str]]:
    """(account, the creator's role) for every account the key may read."""
    key = current_key()
    accounts = accounts_of(key.user)
    if key.account_id is not None:
        accounts = [account for account in accounts if account.id == key.account_id]
    return [(account, member_role(account, key.user)) for account in accounts]


def account_for(account_id: int, scope: str) -> tuple[Account, str]:
    """The account named in the URL with the creator's role, if the key may use ``scope`` on it.

    404 when the key may not see the account at all (whether or not it exists), 403 when it may
    see it but not do this."""
    require_scope(scope)
    key = current_key()
    account = db.session.get(Account, account_id) if 0 < account_id <= MAX_ID else None
    role = member_role(account, key.user) if account is not None else None
    if role is None or (key.account_id is not None and key.account_id != account.id):
        raise ApiError(404, "account_not_found",
                       _("There is no account %(id)d this key can see.", id=account_id))
    if scope == "billing" and role not in MANAGER_ROLES:
        raise ApiError(403, "forbidden", _("Only owners and admins can recharge this account."))
    return account, role
