"""Whether a key presented to the API may act, checked on every request against its stored row, so
that revocation, expiry and a lost role take effect on the next request on every instance."""
from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from flask import current_app

from portal.accounts.access import can_manage
from portal.accounts.models import Account
from portal.apikeys import tokens
from portal.apikeys.models import REVOKED_ROLE_LOST, ApiKey
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

# How often a key's "last used" time and address are written, at most: the API does not write on
# every request.
DEFAULT_LAST_USED_INTERVAL = 300


class KeyRefused(Exception):
    """The key may not act. ``code`` is stable for programs, ``message`` translated for people,
    ``status`` 401 (the key is no good) or 403 (good key, not from here)."""

    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def verify_key(key_text: str, ip: str, now: datetime | None = None) -> ApiKey:
    """The stored key ``key_text`` stands for, if it may act from ``ip`` now; raises KeyRefused."""
    now = now or utcnow()
    try:
        lookup_id = tokens.lookup_id_of(key_text)
    except tokens.MalformedKey as exc:
        if exc.reason == "checksum":
            raise KeyRefused("invalid_key", _(
                "The API key's checksum does not match: it was mistyped or cut short.")) from None
        raise KeyRefused("invalid_key", _(
            "This is not an API key of this site: keys start with %(prefix)s_ and are %(length)d characters "
            "long.", prefix=tokens.PREFIX, length=tokens.KEY_LENGTH)) from None
    key = db.session.scalar(
        db.select(ApiKey).filter_by(lookup_id=lookup_id).options(db.joinedload(ApiKey.user))
    )
    if key is None or not tokens.matches(key_text, key.secret_hash):
        raise KeyRefused("invalid_key", _("Unknown API key."))
    if key.revoked_at is not None:
        raise KeyRefused("key_revoked", _("This API key was revoked."))
    if key.is_expired(now):
        raise KeyRefused("key_expired", _("This API key has expired; create a new one."))
    if not key.user.is_active:
        raise KeyRefused("invalid_key", _("The owner of this API key is disabled."))
    if key.allowed_networks and not _from_allowed_network(ip, key.allowed_networks):
        raise KeyRefused("ip_not_allowed", _(
            "This API key only accepts calls from its IP ranges, and this one came from %(ip)s.", ip=ip), 403)
    if key.account_id is not None:
        _check_creator_still_manages(key)
    _record_use(key, ip, now)
    return key


def _from_allowed_network(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in networks:
        parsed = ipaddress.ip_network(network)
        if address.version == parsed.version and address in parsed:
            return True
    return False


def _check_creator_still_manages(key: ApiKey) -> None:
    """A key limited to an organization dies, for good, once its creator no longer manages it."""
    account = db.session.get(Account, key.account_id)
    if account is not None and can_manage(account, key.user):
        return
    from portal.apikeys.services import notify_owner, revoke

    if revoke(key, REVOKED_ROLE_LOST):
        notify_owner(key.user, _l(
            "Your API key \"%(name)s\" (%(prefix)s) was revoked: you no longer manage the account it was "
            "limited to.", name=key.name, prefix=key.display_prefix))
    raise KeyRefused("key_revoked", _(
        "This API key was revoked: its creator no longer manages the account it is limited to."))


def _record_use(key: ApiKey, ip: str, now: datetime) -> None:
    seconds = current_app.config.get("API_KEY_LAST_USED_INTERVAL", DEFAULT_LAST_USED_INTERVAL)
    interval = timedelta(seconds=seconds)
    if key.last_used_at is not None and key.last_used_at > now - interval:
        return
    # Conditional, so concurrent first requests write once; in a transaction of its own, so the
    # request's real work never waits behind it.
    db.session.execute(
        db.update(ApiKey)
        .where(ApiKey.id == key.id,
               db.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - interval))
        .values(last_used_at=now, last_used_ip=ip[:45])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
