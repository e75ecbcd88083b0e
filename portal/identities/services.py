"""Linking rules for third-party accounts. Every rule lives here; plugins only describe providers.

- One provider account belongs to one portal user (unique (provider, subject)); a user links at
  most one account of each provider.
- Unlinking the last way to sign in (no password, no other identity) is refused.
- An unknown provider account that signs in may create a new portal account (operator switch per
  provider) and is never attached to an existing account, whatever its email.
- ``portal_identity_linked`` runs inside the linking transaction; ``first_link`` is True only the
  first time this provider account is linked to anyone, ever. When a plugin's hook raises, the link
  is rolled back and the person is told; the error is logged.
- Starting a provider round trip and answering its callback are rate limited per IP address.
"""
from __future__ import annotations

import logging
import re
import secrets
import unicodedata

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.accounts.services import open_personal_account
from portal import ratelimits
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized
from portal.notices import send_notice
from portal.security_log import record
from portal.identities.models import (
    AVATAR_URL_MAX,
    EMAIL_MAX,
    NAME_MAX,
    SUBJECT_MAX,
    Identity,
    LinkedSubject,
)
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hook
from portal.timeutil import utcnow
from portal.users.models import User
from portal.users.usernames import MAX_LENGTH as USERNAME_MAX, is_reserved, username_key

logger = logging.getLogger(__name__)

# Per IP address, well above what a person clicking through a provider's page can reach; a shared
# office address still has room (django-allauth allows 20 sign-ups a minute per IP).
RATE_LIMITS = {
    "identities_start_ip": "20/minute",
    "identities_callback_ip": "20/minute",
}


class LinkError(Exception):
    """A linking rule refused; ``message`` is translated and shown as is, ``status`` is HTTP's."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


def allow_attempt(name: str, ip: str) -> bool:
    """Count one attempt of ``name`` (a ``RATE_LIMITS`` key) from ``ip``; False when over the limit."""
    return ratelimits.hit(RATE_LIMITS[name], "portal", name, ip)


def too_many_attempts() -> LinkError:
    return LinkError(
        _("Too many third-party sign-in attempts from your network. Wait a minute and try again."),
        status=429,
    )


def clean_identity(found: ProviderIdentity) -> ProviderIdentity:
    """The provider's answer made safe to store: a usable subject, bounded display fields."""
    subject = str(found.subject).strip() if found.subject not in (None, "") else ""
    if not subject or len(subject) > SUBJECT_MAX or not subject.isprintable():
        raise ProviderError(_("The provider did not say which account signed in."))
    name = "".join(ch for ch in str(found.name or "")[: NAME_MAX * 4] if ch.isprintable()).strip()
    avatar = str(found.avatar_url or "")
    usable_avatar = avatar.startswith(("https://", "http://")) and len(avatar) <= AVATAR_URL_MAX
    email = str(found.email or "").strip()
    return ProviderIdentity(
        subject=subject,
        name=name[:NAME_MAX] or None,
        avatar_url=avatar if usable_avatar else None,
        email=email if "@" in email and len(email) <= EMAIL_MAX and email.isprintable() else None,
    )


def find_identity(provider: str, subject: str) -> Identity | None:
    return db.session.scalar(sa.select(Identity).filter_by(provider=provider, subject=subject))


def identities_of(user_id: int) -> dict[str, Identity]:
    rows = db.session.scalars(sa.select(Identity).filter_by(user_id=user_id).order_by(Identity.id))
    return {identity.provider: identity for identity in rows}


def _refresh(identity: Identity, found: ProviderIdentity) -> None:
    identity.name, identity.avatar_url, identity.email = found.name, found.avatar_url, found.email


def _add_identity(user: User, provider: OAuthProvider, found: ProviderIdentity) -> Identity:
    """Insert the link and its history record, then tell plugins; the caller commits."""
    identity = Identity(user=user, provider=provider.name, subject=found.subject)
    _refresh(identity, found)
    db.session.add(identity)
    seen = db.session.scalar(
        sa.select(LinkedSubject.id).filter_by(provider=provider.name, subject=found.subject)
    )
    if seen is None:
        db.session.add(LinkedSubject(provider=provider.name, subject=found.subject, first_user=user))
    # Unique constraints decide a race between two browsers linking the same account.
    db.session.flush()
    try:
        hook().portal_identity_linked(user=user, identity=identity, first_link=seen is None)
    except Exception:
        # A plugin's failure undoes the link, so plugins never see a link they could not handle.
        # Only names and ids are logged: never the provider's token or the person's details.
        logger.exception("portal_identity_linked failed; %s link of user %s rolled back",
                         provider.name, user.id)
        db.session.rollback()
        raise LinkError(
            _("Linking your %(provider)s account failed on our side, so nothing was changed. "
              "Please try again later.", provider=localized(provider.label)),
            status=503,
        ) from None
    return identity


def _linked_elsewhere(provider: OAuthProvider) -> LinkError:
    return LinkError(
        _("This %(provider)s account is already linked to another Portal user. Sign in with it, "
          "or unlink it there first.", provider=localized(provider.label))
    )


def link_identity(user: User, provider: OAuthProvider, found: ProviderIdentity) -> Identity:
    """Link the provider account ``found`` to ``user``; commit. Raises ``LinkError``."""
    found = clean_identity(found)
    existing = find_identity(provider.name, found.subject)
    if existing is not None and existing.user_id == user.id:
        _refresh(existing, found)
        db.session.commit()
        return existing
    if existing is not None:
        raise _linked_elsewhere(provider)
    if provider.name in identities_of(user.id):
        raise LinkError(
            _("You already linked a %(provider)s account. Unlink it first to link another one.",
              provider=localized(provider.label))
        )
    try:
        identity = _add_identity(user, provider, found)
        record("identity_linked", user, details={"provider": provider.name, "name": identity.name or ""})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _linked_elsewhere(provider) from None
    send_notice(user, _l("A %(provider)s account (%(name)s) was linked to your account; it can now be used "
                         "to sign in.", provider=_label(provider), name=identity.name or identity.subject))
    return identity


class _Label:
    """A provider's label rendered when the notice is, in the account owner's language."""

    def __init__(self, label):
        self.label = label

    def __str__(self) -> str:
        return localized(self.label)


def _label(provider: OAuthProvider | None, name: str = "") -> _Label:
    return _Label(provider.label if provider is not None else name)


def unlinkable_identity(user: User, provider_name: str) -> Identity:
    """The user's link to ``provider_name`` if it may be removed; changes nothing. Raises
    ``LinkError`` (404 when there is no such link, 409 when it is the last way to sign in)."""
    linked = identities_of(user.id)
    identity = linked.get(provider_name)
    if identity is None:
        raise LinkError(_("There is no such linked account."), status=404)
    if user.password_hash is None and len(linked) == 1:
        raise LinkError(
            _("This is your only way to sign in. Set a password or link another account before "
              "unlinking it.")
        )
    return identity


def unlink_identity(user: User, provider_name: str) -> None:
    """Remove the user's link to ``provider_name``; commit. Raises ``LinkError`` (404 when there is
    no such link, 409 when it is the last way to sign in)."""
    # Touching the user's row serializes this user's unlinks (a row lock on PostgreSQL, the write
    # lock on SQLite), so two concurrent unlinks cannot remove the last two ways in together.
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(session_version=User.session_version),
        execution_options={"synchronize_session": False},
    )
    try:
        identity = unlinkable_identity(user, provider_name)
    except LinkError:
        db.session.rollback()
        raise
    db.session.delete(identity)
    record("identity_unlinked", user, details={"provider": provider_name})
    db.session.commit()
    from portal.identities.oauth import provider_or_none

    send_notice(user, _l("The %(provider)s account linked to your account was unlinked.",
                         provider=_label(provider_or_none(provider_name), provider_name)))


def linked_user(provider: OAuthProvider, found: ProviderIdentity) -> User | None:
    """The user this provider account is linked to, or None; nothing is changed."""
    identity = find_identity(provider.name, clean_identity(found).subject)
    return identity.user if identity is not None else None


def sign_in_with(provider: OAuthProvider, found: ProviderIdentity) -> User | None:
    """The active user this provider account is linked to (display fields refreshed), or None."""
    found = clean_identity(found)
    identity = find_identity(provider.name, found.subject)
    if identity is None:
        return None
    user = identity.user
    if not user.is_active:
        raise LinkError(_("This account is disabled."), status=403)
    _refresh(identity, found)
    identity.last_sign_in_at = user.last_sign_in_at = utcnow()
    db.session.commit()
    return user


def _username_base(found: ProviderIdentity, provider: OAuthProvider) -> str:
    ascii_name = unicodedata.normalize("NFKD", found.name or "").encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")
    base = re.sub(r"^[^A-Za-z]+", "", base)
    if len(base) < 3 or is_reserved(base):
        base = f"{provider.name}-user"
    return base[: USERNAME_MAX - 5]


def free_username(base: str) -> str:
    """``base``, or ``base-NNNN`` when taken: a username nobody has."""
    candidate = base
    for _attempt in range(20):
        taken = db.session.scalar(sa.select(User.id).filter_by(username_key=username_key(candidate)))
        if taken is None:
            return candidate
        candidate = f"{base}-{secrets.randbelow(10000):04d}"
    return f"{base[: USERNAME_MAX - 9]}-{secrets.token_hex(4)}"


def create_user_without_password(username: str) -> User:
    """A user who signs in only through providers, with a personal account; the caller commits."""
    user = User(username=username, username_key=username_key(username), password_hash=None)
    db.session.add(user)
    open_personal_account(user)
    return user


def sign_up_with(provider: OAuthProvider, found: ProviderIdentity) -> User:
    """A new portal user for an unknown provider account, linked to it; commit.

    Never matches an existing user, not even by email: the provider's email is not proof of owning
    the portal account that has it."""
    found = clean_identity(found)
    if not provider.allows_sign_up():
        raise LinkError(
            _("No Portal account is linked to this %(provider)s account. Sign in another way and "
              "link it in the user center.", provider=localized(provider.label)),
            status=403,
        )
    for _attempt in range(3):
        user = create_user_without_password(free_username(_username_base(found, provider)))
        user.last_sign_in_at = utcnow()
        try:
            identity = _add_identity(user, provider, found)
            identity.last_sign_in_at = user.last_sign_in_at
            db.session.commit()
            return user
        except IntegrityError:
            db.session.rollback()
            if find_identity(provider.name, found.subject) is not None:
                raise _linked_elsewhere(provider) from None
            # Otherwise someone took the username at the same moment: pick another.
    raise LinkError(_("Could not create an account right now. Please try again."), status=503)
