"""Email and phone binding: the rules for adding, verifying, promoting and removing a user's contacts.

Every change that needs a verification code checks it through ``portal.verification.services``; the
unique ``emails.address_key`` and ``users.phone`` decide when two users claim the same contact at once.
Who may change a contact once it is bound follows ``CONTACT_CHANGE_POLICY``:

- ``self``: the user may change or unbind the phone and change the primary email, after a code to the
  old contact and one to the new;
- ``support``: once bound, the phone and the primary email change only through an operator
  (``flask portal users set-contact``).

Either way a user is never left without a verified way to be reached.
"""
from __future__ import annotations

import phonenumbers
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
from portal.security_log import record, record_operator_action
from portal.timeutil import utcnow
from portal.users.models import Email, User

PHONE_INPUT_MAX_LENGTH = 32
DEFAULT_PHONE_REGION = "CN"
# More than this is not a person's set of addresses, and every one can be sent codes.
MAX_EMAILS_PER_USER = 10

# Verification code purposes.
VERIFY_EMAIL = "verify_email"
VERIFY_PHONE = "verify_phone"
# Codes to the old contact, proving the change comes from whoever holds it.
CHANGE_EMAIL = "change_email"
CHANGE_PHONE = "change_phone"
UNBIND_PHONE = "unbind_phone"


class ContactError(ValueError):
    """A contact change refused; ``message`` is a translated sentence, ``field`` the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- Normalizing and showing -----------------------------------------------------------------------

def normalize_email(raw: str) -> str:
    """The address as stored: trimmed, validated, domain lower-cased (the sign-up rules)."""
    from portal.users.services import normalize_email as normalize

    try:
        return normalize(raw)
    except ValueError as exc:
        raise ContactError(str(exc), "address") from None


def email_key(address: str) -> str:
    from portal.users.services import email_key as key

    return key(address)


def normalize_phone(raw: str, field: str = "phone") -> str:
    """E.164 (``+8613800138000``); numbers without a ``+`` are read as mainland China numbers."""
    text = (raw or "").strip()
    if not text:
        raise ContactError(_("Enter a phone number."), field)
    if len(text) > PHONE_INPUT_MAX_LENGTH or not all(c.isascii() and (c.isdigit() or c in "+-() ") for c in text):
        raise ContactError(_("A phone number has only digits, and may start with + and a country code."), field)
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ContactError(_("This is not a valid phone number."), field) from None
    if not phonenumbers.is_valid_number(number):
        raise ContactError(_("This is not a valid phone number."), field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str | None) -> str:
    """``+8613800138000`` -> ``138****8000``; other countries keep their code: ``+44 79****0123``."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "****"
    national = str(number.national_number)
    hidden = national[:3] + "****" + national[-4:] if len(national) > 7 else national[:1] + "****"
    return hidden if number.country_code == 86 else f"+{number.country_code} {hidden}"


def mask_email(address: str) -> str:
    local, _sep, domain = address.partition("@")
    return f"{local[:2]}***@{domain}" if len(local) > 2 else f"{local[:1]}***@{domain}"


def mask_destination(channel: str, value: str) -> str:
    """A code's destination as a choice label: "Email al***@example.com" / "Phone 138****8000"."""
    if channel == "email":
        return _("Email %(address)s", address=mask_email(value))
    return _("Phone %(phone)s", phone=mask_phone(value))


def policy() -> str:
    return current_app.config["CONTACT_CHANGE_POLICY"]


def can_change_phone(user: User) -> bool:
    """Whether the user may replace or unbind a bound phone themselves."""
    return user.phone is None or policy() == "self"


def can_change_primary_email(user: User) -> bool:
    primary = user.primary_email
    return primary is None or not primary.is_verified or policy() == "self"


def verified_emails(user: User) -> list[Email]:
    return [e for e in user.emails if e.is_verified]


# --- Codes ----------------------------------------------------------------------------------------

def send_code_to(purpose: str, destination: str, user: User, field: str, shown_as: str | None = None) -> None:
    from portal.plugins import DeliveryError
    from portal.verification.services import CodeError, send_code

    try:
        send_code(purpose, destination, user_id=user.id, shown_as=shown_as)
    except CodeError as exc:
        raise ContactError(exc.message, field) from None
    except DeliveryError:
        raise ContactError(_("The code could not be sent just now. Please try again later."), field) from None


def check_code_from(purpose: str, destination: str, code: str, user: User, field: str) -> None:
    from portal.verification.services import CodeError, check_code

    code = (code or "").strip()
    if not code:
        raise ContactError(_("Enter the verification code."), field)
    try:
        check_code(purpose, destination, code, user_id=user.id)
    except CodeError as exc:
        raise ContactError(exc.message, field) from None


def _commit_or_raise(message: str, field: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ContactError(message, field) from None


# --- Emails ---------------------------------------------------------------------------------------

def user_email(user: User, email_id: int) -> Email | None:
    """The user's own email ``email_id``, or None (another user's emails do not exist for them)."""
    return db.session.scalar(db.select(Email).where(Email.id == email_id, Email.user_id == user.id))


def add_email(user: User, raw_address: str) -> Email:
    """Add an unverified address (the caller sends it a code). Raises ContactError; nothing is
    added then."""
    address = normalize_email(raw_address)
    key = email_key(address)
    already = _("You have already added this email address.")
    if any(e.address_key == key for e in user.emails):
        raise ContactError(already, "address")
    if len(user.emails) >= MAX_EMAILS_PER_USER:
        raise ContactError(_("You can add at most %(count)d email addresses.", count=MAX_EMAILS_PER_USER),
                           "address")
    # Someone else's claim (or ownership) is not said here: the code goes to the address either way,
    # and its owner is told (send_email_code).
    email = Email(user=user, address=address, address_key=key, is_primary=user.primary_email is None)
    db.session.add(email)
    record("email_added", user, details={"address": mask_email(address)})
    _commit_or_raise(already, "address")
    return email


def send_email_code(user: User, email: Email, shown_as: str | None = None) -> None:
    """Send the code that verifies ``email``; when the address already belongs to someone else, its
    owner is also told that another account tried to claim it (the claimant sees the same answer).
    ``shown_as``: what the message says the code is for, when not binding an email ("sign_up")."""
    from portal.users.services import verified_owner

    if email.is_verified:
        raise ContactError(_("This email address is already verified."), "code")
    send_code_to(VERIFY_EMAIL, email.address, user, "code", shown_as=shown_as)
    owner = verified_owner(email.address_key)
    if owner is not None and owner.user_id != user.id:
        send_notice(owner.user, _l("Someone tried to use your email address %(address)s for another account. It "
                                   "stays yours and nothing changed; ignore the code that came with this.",
                                   address=owner.address), only_to=[owner.address])


def verify_email(user: User, email: Email, code: str) -> None:
    if email.is_verified:
        raise ContactError(_("This email address is already verified."), "code")
    from portal.users.services import drop_other_claims, verified_owner

    # Read before any commit: another user verifying the address meanwhile deletes this claim.
    email_id, address, key = email.id, email.address, email.address_key
    taken = _("This email address is already in use.")
    owner = verified_owner(key)
    if owner is not None and owner.user_id != user.id:
        raise ContactError(taken, "code")
    check_code_from(VERIFY_EMAIL, address, code, user, "code")
    reachable_before = bool(verified_emails(user)) or user.phone is not None
    # Every claim on the address, locked in id order: two users verifying it at once queue here
    # instead of deadlocking on each other's rows (PostgreSQL; SQLite runs one writer at a time).
    db.session.execute(
        db.select(Email.id).where(Email.address_key == key).order_by(Email.id).with_for_update()
    ).all()
    rows = db.session.execute(
        db.update(Email).where(Email.id == email_id, Email.verified_at.is_(None)).values(verified_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    if rows == 1:
        # The first to verify owns the address; the unique index over verified rows decides a race.
        drop_other_claims(email_id=email_id, user_id=user.id, address_key=key)
        record("email_verified", user, details={"address": mask_email(address)})
    _commit_or_raise(taken, "code")
    if rows != 1:
        still = db.session.get(Email, email_id)
        if still is None:
            raise ContactError(taken, "code")
        if not still.is_verified:
            raise ContactError(_("This email address could not be verified. Please try again."), "code")
    if rows == 1 and reachable_before:
        # A first contact verified right after signing up has nobody else to tell.
        send_notice(user, _l("The email address %(address)s was verified on your account; it can now "
                             "be used to sign in and to reset the password.", address=mask_email(address)))


def primary_change_needs_old_code(user: User) -> bool:
    primary = user.primary_email
    return primary is not None and primary.is_verified


def send_primary_change_code(user: User) -> None:
    """Under the ``self`` policy, a change of primary email is confirmed by a code to the old one."""
    if not can_change_primary_email(user):
        raise ContactError(_("Your primary email can only be changed by support."), "code")
    if primary_change_needs_old_code(user):
        send_code_to(CHANGE_EMAIL, user.primary_email.address, user, "code")


def set_primary_email(user: User, email: Email, old_code: str | None = None) -> None:
    """Make a verified address the primary one (the address sign-in and notices use)."""
    if email.is_primary:
        raise ContactError(_("This is already your primary email address."), "code")
    if not email.is_verified:
        raise ContactError(_("Only a verified email address can be the primary one."), "code")
    if not can_change_primary_email(user):
        raise ContactError(_("Your primary email can only be changed by support."), "code")
    old = user.primary_email
    if primary_change_needs_old_code(user):
        check_code_from(CHANGE_EMAIL, old.address, old_code, user, "code")
    _make_primary(user, email)
    record("primary_email_changed", user, details={"address": mask_email(email.address)})
    db.session.commit()
    send_notice(user, _l("Your primary email address was changed to %(address)s.", address=mask_email(email.address)),
                also_to=[old.address] if old is not None and old.is_verified else [])


def _make_primary(user: User, email: Email) -> None:
    # One statement over all the user's rows: concurrent changes leave exactly one primary. The
    # caller commits, which reloads what the session holds.
    db.session.execute(
        db.update(Email).where(Email.user_id == user.id).values(is_primary=(Email.id == email.id)),
        execution_options={"synchronize_session": False},
    )


def remove_email(user: User, email: Email) -> None:
    """Remove a non-primary address, unless it is the last verified way to reach the user."""
    if email.is_primary:
        raise ContactError(_("The primary email address cannot be removed; make another one primary first."))
    if email.is_verified and user.phone is None and len(verified_emails(user)) == 1:
        raise ContactError(_("This is your only verified contact; bind a phone or verify another email first."))
    address, was_verified = email.address, email.is_verified
    db.session.delete(email)
    record("email_removed", user, details={"address": mask_email(address)})
    db.session.commit()
    if was_verified:
        send_notice(user, _l("The email address %(address)s was removed from your account.",
                             address=mask_email(address)), also_to=[address])


# --- Phone ----------------------------------------------------------------------------------------

def _phone_taken(user: User, phone: str) -> bool:
    owner = db.session.scalar(db.select(User.id).where(User.phone == phone))
    return owner is not None and owner != user.id


def _check_new_phone(user: User, raw_phone: str) -> str:
    if not can_change_phone(user):
        raise ContactError(_("Your bound phone can only be changed by support."), "phone")
    phone = normalize_phone(raw_phone)
    if phone == user.phone:
        raise ContactError(_("This phone number is already bound to your account."), "phone")
    if _phone_taken(user, phone):
        raise ContactError(_("This phone number is bound to another account."), "phone")
    return phone


def send_phone_codes(user: User, raw_phone: str) -> str:
    """Send a code to the new phone, and to the bound one when it is being replaced.

    Returns the new phone in E.164."""
    phone = _check_new_phone(user, raw_phone)
    if user.phone:
        send_code_to(CHANGE_PHONE, user.phone, user, "old_code")
    send_code_to(VERIFY_PHONE, phone, user, "code")
    return phone


def bind_phone(user: User, raw_phone: str, code: str, old_code: str | None = None) -> str:
    """Bind (or, under the ``self`` policy, replace) the user's phone. Returns it in E.164."""
    phone = _check_new_phone(user, raw_phone)
    if user.phone:
        check_code_from(CHANGE_PHONE, user.phone, old_code, user, "old_code")
    check_code_from(VERIFY_PHONE, phone, code, user, "code")
    old_phone = user.phone
    user.phone = phone
    user.phone_verified_at = utcnow()
    record("phone_changed", user, details={"phone": mask_phone(phone), "replaced": bool(old_phone)})
    _commit_or_raise(_("This phone number is bound to another account."), "phone")
    if old_phone:
        send_notice(user, _l("The phone bound to your account was changed from %(old)s to %(new)s.",
                             old=mask_phone(old_phone), new=mask_phone(phone)), also_to=[old_phone])
    else:
        send_notice(user, _l("The phone %(phone)s was bound to your account; it can now be used to sign in "
                             "and to reset the password.", phone=mask_phone(phone)))
    return phone


def _check_unbind_allowed(user: User) -> None:
    if user.phone is None:
        raise ContactError(_("No phone is bound to your account."), "code")
    if not can_change_phone(user):
        raise ContactError(_("Your bound phone can only be changed by support."), "code")
    if not verified_emails(user):
        raise ContactError(_("Your phone is your only verified contact; verify an email first."), "code")


def send_unbind_code(user: User) -> None:
    _check_unbind_allowed(user)
    send_code_to(UNBIND_PHONE, user.phone, user, "code")


def unbind_phone(user: User, code: str) -> None:
    _check_unbind_allowed(user)
    check_code_from(UNBIND_PHONE, user.phone, code, user, "code")
    old_phone = user.phone
    user.phone = None
    user.phone_verified_at = None
    record("phone_removed", user, details={"phone": mask_phone(old_phone)})
    db.session.commit()
    send_notice(user, _l("The phone %(phone)s was unbound from your account.", phone=mask_phone(old_phone)),
                also_to=[old_phone])


# --- Operators ------------------------------------------------------------------------------------

def set_contact_by_operator(user: User, email: str | None = None, phone: str | None = None,
                            remove_phone: bool = False) -> None:
    """What support does when a user lost a contact: the email becomes the verified primary one
    (the old primary is removed, since whoever holds it should no longer reach the account), the
    phone is bound as verified. Raises ContactError; nothing changes then."""
    if phone and remove_phone:
        raise ContactError(_("Give a new phone or remove the phone, not both."), "phone")
    new_phone = normalize_phone(phone) if phone else None
    if new_phone and _phone_taken(user, new_phone):
        raise ContactError(_("This phone number is bound to another account."), "phone")
    if remove_phone and not verified_emails(user) and not email:
        raise ContactError(_("Your phone is your only verified contact; verify an email first."), "phone")
    old_contacts = [c for c in (user.primary_email.address if user.primary_email and user.primary_email.is_verified
                                else None, user.phone) if c]
    if email:
        address = normalize_email(email)
        key = email_key(address)
        owner = db.session.scalar(db.select(Email).where(Email.address_key == key, Email.verified_at.is_not(None)))
        if owner is not None and owner.user_id != user.id:
            raise ContactError(_("This email address is already in use."), "address")
        existing = next((e for e in user.emails if e.address_key == key), None)
        old = user.primary_email
        if existing is None:
            existing = Email(user=user, address=address, address_key=key)
            db.session.add(existing)
        if old is not None and old is not existing:
            user.emails.remove(old)
        existing.verified_at = existing.verified_at or utcnow()
        db.session.flush()
        from portal.users.services import drop_other_claims

        drop_other_claims(existing)
        _make_primary(user, existing)
    if new_phone:
        user.phone = new_phone
        user.phone_verified_at = utcnow()
    elif remove_phone:
        user.phone = None
        user.phone_verified_at = None
    record_operator_action("operator_action", user, details={
        "action": "set_contact", "email": mask_email(email) if email else None,
        "phone": mask_phone(new_phone) if new_phone else ("removed" if remove_phone else None)})
    _commit_or_raise(_("This contact is already in use by another account."), "phone")
    send_notice(user, _l("Support changed the contacts of your account (primary email and phone)."),
                also_to=old_contacts)
