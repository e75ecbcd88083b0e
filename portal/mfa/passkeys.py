"""Passkeys and security keys (WebAuthn, with py_webauthn).

A user registers several, each with a label; each is a discoverable credential (resident key) so it
can sign in without a username where the operator allows it (``PASSKEY_SIGN_IN_ENABLED``), and it is
accepted as the second factor when two-factor sign-in is on (then user verification is not needed:
the password was the first factor).

Every ceremony's challenge lives in the Flask session of the browser that asked for it, for 5
minutes, and is spent by the first answer, right or wrong. An answer is refused for a wrong origin
or relying-party id (the site's, from ``WEBAUTHN_ORIGIN`` / ``WEBAUTHN_RP_ID`` or the request's host),
another challenge, an unknown credential, or a signature counter that did not grow (a cloned key);
the counter is stored by a conditional update so two uses of one assertion cannot both pass.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, request, session
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from portal.extensions import db
from portal.i18n import gettext as _
from portal.mfa.errors import SecondFactorError
from portal.mfa.models import Passkey
from portal.timeutil import utcnow

CHALLENGE_SECONDS = 300
MAX_PER_USER = 10
REGISTER, SIGN_IN, SECOND_FACTOR = "register", "sign_in", "second_factor"
_SESSION_KEY = "passkey_challenge"


def of_user(user_id: int) -> list[Passkey]:
    return list(db.session.scalars(sa.select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)))


def rp_id() -> str:
    return current_app.config.get("WEBAUTHN_RP_ID") or urlsplit(request.host_url).hostname


def origin() -> str:
    return current_app.config.get("WEBAUTHN_ORIGIN") or request.host_url.rstrip("/")


def _user_handle(user) -> bytes:
    # Stable per user, and not the user id itself: authenticators may show or sync it.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"passkey user {user.id}".encode(),
                    hashlib.sha256).digest()[:16]


def _remember(purpose: str, challenge: bytes, user_id: int | None) -> None:
    session[_SESSION_KEY] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge),
                             "user_id": user_id, "expires": time.time() + CHALLENGE_SECONDS}


def _spend(purpose: str, user_id: int | None) -> bytes:
    """The challenge this session was given for ``purpose`` (and user), spent now."""
    kept = session.pop(_SESSION_KEY, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose or kept.get("user_id") != user_id \
            or not isinstance(kept.get("expires"), (int, float)) or kept["expires"] < time.time():
        raise SecondFactorError(_("The passkey request has expired. Try again."))
    return base64url_to_bytes(kept["challenge"])


def registration_options(user) -> str:
    """The options for ``navigator.credentials.create`` (JSON), for a new passkey of ``user``."""
    if len(of_user(user.id)) >= MAX_PER_USER:
        raise SecondFactorError(_("You have %(count)d passkeys, the most allowed: remove one first.",
                                  count=MAX_PER_USER))
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=current_app.config["SITE_NAME"], user_name=user.username,
        user_id=_user_handle(user), user_display_name=user.username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in of_user(user.id)],
    )
    _remember(REGISTER, options.challenge, user.id)
    return options_to_json(options)


def _credential(text: str) -> dict:
    try:
        credential = json.loads(text or "")
    except ValueError:
        credential = None
    if not isinstance(credential, dict) or not isinstance(credential.get("rawId"), str):
        raise SecondFactorError(_("The browser's passkey answer is not valid. Try again."))
    return credential


def register(user, label: str, credential_json: str) -> Passkey:
    """Verify the browser's answer to ``registration_options`` and keep the passkey (caller commits)."""
    label = (label or "").strip()
    if not label or len(label) > 64:
        raise SecondFactorError(_("Give the passkey a name of at most 64 characters."))
    challenge = _spend(REGISTER, user.id)
    credential = _credential(credential_json)
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_rp_id=rp_id(), expected_origin=origin())
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise SecondFactorError(_("The passkey could not be verified. Try again.")) from None
    if len(of_user(user.id)) >= MAX_PER_USER:
        raise SecondFactorError(_("You have %(count)d passkeys, the most allowed: remove one first.",
                                  count=MAX_PER_USER))
    if db.session.scalar(sa.select(Passkey.id).where(Passkey.credential_id == verified.credential_id)):
        raise SecondFactorError(_("This passkey is already registered."))
    passkey = Passkey(user_id=user.id, label=label, credential_id=verified.credential_id,
                      public_key=verified.credential_public_key, sign_count=verified.sign_count,
                      discoverable=True)
    db.session.add(passkey)
    return passkey


def authentication_options(purpose: str, user=None) -> str:
    """Options for ``navigator.credentials.get``: the user's passkeys as the second factor, or an
    empty allow list (any passkey of this site) to sign in with a passkey alone."""
    allow = [PublicKeyCredentialDescriptor(id=p.credential_id) for p in of_user(user.id)] if user else []
    options = generate_authentication_options(
        rp_id=rp_id(), allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED if purpose == SIGN_IN
        else UserVerificationRequirement.PREFERRED)
    _remember(purpose, options.challenge, user.id if user else None)
    return options_to_json(options)


def authenticate(purpose: str, credential_json: str, user=None) -> Passkey:
    """Verify an assertion; returns the passkey used (its ``user_id`` says whose). Commits the new
    signature counter. ``user``: the passkey must be theirs (second factor, step-up)."""
    challenge = _spend(purpose, user.id if user else None)
    credential = _credential(credential_json)
    try:
        credential_id = base64url_to_bytes(credential["rawId"])
    except (ValueError, TypeError):
        raise SecondFactorError(_("The browser's passkey answer is not valid. Try again.")) from None
    passkey = db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == credential_id))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise SecondFactorError(_("This passkey is not registered here."))
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id(),
            expected_origin=origin(), credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count, require_user_verification=purpose == SIGN_IN)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise SecondFactorError(_("The passkey could not be verified. Try again.")) from None
    updated = db.session.execute(
        sa.update(Passkey).where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
    ).rowcount
    if updated != 1:
        db.session.rollback()
        raise SecondFactorError(_("The passkey could not be verified. Try again."))
    db.session.commit()
    return passkey


def remove(user, passkey_id: int) -> Passkey | None:
    """Delete one of the user's passkeys (caller commits); None when it is not theirs."""
    passkey = db.session.scalar(sa.select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))
    if passkey is not None:
        db.session.delete(passkey)
    return passkey
