"""Two-factor sign-in (两步验证): turning it on and off, and checking the second factor.

Two-factor sign-in is on while the user has a confirmed authenticator app. Then every sign-in
(password, the lockout code, a third-party provider) and every step-up asks for the second factor:
a code from the app, one of the recovery codes, or a passkey the user registered.

Turning it on needs a verified primary email or a bound phone: the contact through which support
recovers the account if the authenticator is lost (phone-only users have no email);
turning it off needs a fresh step-up - which itself asks for the second factor - and sends a notice.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_login import current_user

from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.mfa import recovery, totp
from portal.mfa.errors import SecondFactorError
from portal.mfa.models import Passkey, RecoveryCode, TotpAuthenticator
from portal.notices import send_notice
from portal.security_log import record, record_operator_action

TOTP, RECOVERY, PASSKEY = "totp", "recovery", "passkey"
NO_RECOVERY_CONTACT = _l("Verify an email address or bind a phone first: it is how support recovers your "
                         "account if you lose your authenticator.")


def is_enabled(user) -> bool:
    return totp.authenticator(user.id) is not None


def can_enable(user) -> bool:
    primary = user.primary_email
    has_email = primary is not None and primary.is_verified
    return has_email or bool(user.phone and user.phone_verified_at)


def start_enrolment(user) -> str:
    """Begin enrolling an authenticator; returns the nonce the enrolling session keeps."""
    if is_enabled(user):
        raise SecondFactorError(_("Two-factor sign-in is already on."))
    if not can_enable(user):
        raise SecondFactorError(str(NO_RECOVERY_CONTACT))
    return totp.start_enrolment(user)


def confirm_enrolment(user, nonce: str | None, code: str) -> list[str]:
    """The first code from the app turns two-factor sign-in on; returns the recovery codes to show
    once. The enrolment must be finished in the session that started it."""
    row = totp.pending(user.id, nonce)
    if row is None:
        raise SecondFactorError(_("This set-up has expired or was started elsewhere. Start again."))
    if not can_enable(user):
        raise SecondFactorError(str(NO_RECOVERY_CONTACT))
    totp.confirm_enrolment(row, code)
    codes = recovery.generate(user.id)
    record("mfa_enabled", user, details={"method": TOTP})
    db.session.commit()
    send_notice(user, _l("Two-factor sign-in was turned on for your account."))
    return codes


def regenerate_recovery_codes(user) -> list[str]:
    if not is_enabled(user):
        raise SecondFactorError(_("Turn on two-factor sign-in first."))
    codes = recovery.generate(user.id)
    record("recovery_codes_generated", user)
    db.session.commit()
    send_notice(user, _l("New recovery codes were made for your account; the old ones no longer work."))
    return codes


def _remove_factors(user_id: int, passkeys: bool) -> None:
    db.session.execute(sa.delete(TotpAuthenticator).where(TotpAuthenticator.user_id == user_id))
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    if passkeys:
        db.session.execute(sa.delete(Passkey).where(Passkey.user_id == user_id))


def disable(user) -> None:
    """Turn two-factor sign-in off (the caller checked the step-up): the app and the recovery codes
    go; passkeys stay, they are a way to sign in of their own."""
    if not is_enabled(user):
        raise SecondFactorError(_("Two-factor sign-in is not on."))
    _remove_factors(user.id, passkeys=False)
    record("mfa_disabled", user)
    db.session.commit()
    send_notice(user, _l("Two-factor sign-in was turned off for your account."))


def reset_by_operator(user, reason: str) -> None:
    """Support removes every second factor of a user who lost them (after checking who they are),
    and ends the user's sessions."""
    from portal.users.models import User

    _remove_factors(user.id, passkeys=True)
    user.session_version = User.session_version + 1
    record_operator_action("mfa_reset", user, details={"reason": reason})
    db.session.commit()
    send_notice(user, _l("Support removed the two-factor sign-in of your account (authenticator app, "
                         "recovery codes and passkeys) at your request."))


def verify(user, code: str) -> str:
    """Accept a second factor typed by ``user``: a 6-digit authenticator code or a recovery code.
    Returns which (TOTP or RECOVERY); commits; raises SecondFactorError."""
    text = (code or "").strip()
    if not text:
        raise SecondFactorError(_("Enter the code from your authenticator app or a recovery code."))
    digits = text.replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(digits) <= totp.DIGITS:
        totp.verify(user.id, digits)
        db.session.commit()
        return TOTP
    recovery.use(user.id, text)
    left = recovery.remaining(user.id)
    record("recovery_code_used", user, details={"remaining": left})
    db.session.commit()
    send_notice(user, _l("A recovery code was used to confirm it is you. %(count)s recovery codes are left.",
                         count=left))
    return RECOVERY


def required_for(user) -> bool:
    """True when the user manages (owns or administers) an organization that requires two-factor
    sign-in, or the site requires it of every organization's managers."""
    from portal.accounts.services import request_accounts
    from portal.orgs.models import Membership, Organization

    every_org = bool(current_app.config.get("MFA_REQUIRED_FOR_ORG_MANAGERS"))
    if has_request_context() and user is current_user._get_current_object():
        # The navbar lists the user's accounts and roles anyway: no statement of its own.
        listed = request_accounts(user)
        return any(account.org is not None and listed.roles[account.id] in ("owner", "admin")
                   and (every_org or account.org.require_2fa) for account in listed.accounts)
    query = (sa.select(Organization.id).join(Membership, Membership.org_id == Organization.id)
             .where(Membership.user_id == user.id, Membership.role.in_(("owner", "admin")),
                    Organization.deleted_at.is_(None)))
    if not current_app.config.get("MFA_REQUIRED_FOR_ORG_MANAGERS"):
        query = query.where(Organization.require_2fa.is_(True))
    return db.session.scalar(query.limit(1)) is not None


def record_failed_second_factor(user) -> None:
    """A wrong second factor while signing in: the password was right, so the owner should know."""
    record("sign_in_failed", user, details={"method": "second_factor"})
    db.session.commit()
