"""Creating, listing and revoking API keys (the API密钥 tab). The API checks keys in
``portal.apikeys.checks``; the scheduled job that announces and reports expiry is in
``portal.apikeys.expiry``."""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from portal.accounts.access import can_manage
from portal.accounts.models import Account
from portal.accounts.services import accounts_of
from portal.apikeys import tokens
from portal.apikeys.models import REVOKED_BY_USER, SCOPES, ApiKey
from portal.extensions import db
from portal.security_log import record
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

NAME_MAX_LENGTH = 64
# Lifetimes offered, in days; None is "never expires" (allowed, with a warning).
LIFETIMES = (7, 30, 90, 180, 365, None)
DEFAULT_LIFETIME = 90
MAX_ACTIVE_KEYS_PER_USER = 20
MAX_NETWORKS = 16
NETWORK_SEPARATORS = re.compile(r"[\s,，;；]+")


class ApiKeyError(ValueError):
    """A key could not be created or revoked; ``message`` is a translated sentence, ``field`` the
    form field it belongs to (None: the form as a whole)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_scopes(scopes) -> str:
    """The stored scope string: known scopes only, read added to write scopes, in SCOPES order."""
    chosen = set(scopes or ())
    unknown = chosen - set(SCOPES)
    if unknown:
        raise ApiKeyError(_("Unknown scope %(scope)s.", scope=sorted(unknown)[0]), "scopes")
    if not chosen:
        raise ApiKeyError(_("Choose at least one permission."), "scopes")
    chosen.add("read")
    return " ".join(scope for scope in SCOPES if scope in chosen)


def parse_networks(text: str | None) -> list[str]:
    """"10.0.0.0/8, 2001:db8::/32 203.0.113.7" -> normalized CIDR strings (host bits dropped)."""
    entries = [entry for entry in NETWORK_SEPARATORS.split(text or "") if entry]
    if len(entries) > MAX_NETWORKS:
        raise ApiKeyError(_("At most %(count)d IP ranges.", count=MAX_NETWORKS), "networks")
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ApiKeyError(
                _("%(entry)s is not an IP address or range (e.g. 203.0.113.7 or 10.0.0.0/8).",
                  entry=entry[:50]),
                "networks",
            ) from None
        if str(network) not in networks:
            networks.append(str(network))
    return networks


def manageable_accounts(user) -> list[Account]:
    """The accounts a key may be limited to: the personal one and organizations the user manages."""
    return [account for account in accounts_of(user) if can_manage(account, user)]


def create_key(user, name: str, scopes, lifetime_days: int | None, account_id: int | None = None,
               networks: str | None = None, now: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key for ``user``; returns it and the secret, which is shown once and never stored.
    Commits. Raises ApiKeyError naming the field at fault."""
    now = now or utcnow()
    name = (name or "").strip()
    if not name:
        raise ApiKeyError(_("Give the key a name, e.g. the service that will use it."), "name")
    if len(name) > NAME_MAX_LENGTH:
        raise ApiKeyError(_("The name can be at most %(count)d characters.", count=NAME_MAX_LENGTH), "name")
    scope_string = normalize_scopes(scopes)
    if lifetime_days not in LIFETIMES:
        raise ApiKeyError(_("Choose when the key expires."), "lifetime")
    if account_id is not None and account_id not in {a.id for a in manageable_accounts(user)}:
        raise ApiKeyError(
            _("A key can only be limited to your personal account or an organization you manage."), "account")
    allowed_networks = parse_networks(networks)
    if active_key_count(user, now) >= MAX_ACTIVE_KEYS_PER_USER:
        raise ApiKeyError(_("You have %(count)d active keys, the most allowed: revoke one first.",
                            count=MAX_ACTIVE_KEYS_PER_USER))
    for _attempt in range(3):
        issued = tokens.new_key()
        key = ApiKey(
            user_id=user.id, name=name, lookup_id=issued.lookup_id, secret_hash=issued.secret_hash,
            scopes=scope_string, account_id=account_id, allowed_networks=allowed_networks or None,
            created_at=now, expires_at=now + timedelta(days=lifetime_days) if lifetime_days else None,
        )
        db.session.add(key)
        try:
            db.session.flush()
            record("api_key_created", user, details={"name": name, "prefix": key.display_prefix,
                                                     "scopes": scope_string})
            db.session.commit()
        except IntegrityError:  # the 8-character lookup id was taken: draw again
            db.session.rollback()
            continue
        notify_owner(user, _l("An API key named \"%(name)s\" (%(prefix)s) was created.", name=name,
                         prefix=key.display_prefix))
        return key, issued.secret
    raise RuntimeError("could not draw an unused API key lookup id")


def active_key_count(user, now: datetime) -> int:
    return db.session.scalar(
        db.select(db.func.count()).select_from(ApiKey).where(
            ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None),
            db.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    )


def keys_of(user) -> list[ApiKey]:
    """Every key of the user, newest first (revoked and expired ones too, so the list tells)."""
    return list(db.session.scalars(db.select(ApiKey).filter_by(user_id=user.id).order_by(ApiKey.id.desc())))


def user_key(user, key_id: int) -> ApiKey | None:
    return db.session.scalar(db.select(ApiKey).filter_by(id=key_id, user_id=user.id))


def revoke_key(user, key: ApiKey, now: datetime | None = None) -> bool:
    """Stop ``key`` working from the next request on, on every instance (each request reads the key's
    row). Returns False when it was already revoked. Commits."""
    if key.user_id != user.id:
        raise ApiKeyError(_("This key is not yours."))
    changed = revoke(key, REVOKED_BY_USER, now, actor=user)
    if changed:
        notify_owner(user, _l("Your API key \"%(name)s\" (%(prefix)s) was revoked.", name=key.name,
                         prefix=key.display_prefix))
    return changed


def revoke(key: ApiKey, reason: str, now: datetime | None = None, actor=None) -> bool:
    """Mark ``key`` revoked once (a conditional update: concurrent revocations agree). Commits."""
    changed = db.session.execute(
        db.update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if changed:
        record("api_key_revoked", user_id=key.user_id, actor=actor, actor_kind=None if actor else "system",
               details={"name": key.name, "prefix": key.display_prefix, "reason": reason})
    db.session.commit()
    db.session.refresh(key)
    return changed


def notify_owner(user, what) -> None:
    """A key is a way into the account: its owner hears of every one created, revoked or expired."""
    from portal.notices import send_notice

    send_notice(user, what)
