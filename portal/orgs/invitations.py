"""Invitations: an owner or admin invites someone by username or by email address; the invitee
accepts or declines, exactly once. At most one invitation per person (or address) and organization is
pending at a time (a unique key, so two admins inviting at the same moment make one invitation).

- An invitation by email never says whether the address has an account: it is addressed to the
  address, which is told by email, and whoever signs in (or signs up) and verifies that address may
  accept it. The member list shows the invited address.
- Invitations are limited per inviter and per organization.
- An invitation dies when its inviter can no longer invite (left, removed, made a member), and grants
  at most the inviter's role at the moment it is accepted.

Like portal.orgs.services, each public function commits or raises OrgError having changed nothing."""
from __future__ import annotations

import functools
import logging

from sqlalchemy.exc import IntegrityError

from portal import ratelimits
from portal.extensions import db
from portal.security_log import record
from portal.i18n import gettext as _
from portal.orgs.models import Invitation, Membership, Organization
from portal.orgs.services import NotFound, OrgError, _check_role, _fail, _lock, _require, role_label, role_of
from portal.timeutil import utcnow
from portal.users.models import Email, User
from portal.users.services import email_key, normalize_email
from portal.users.usernames import username_key

log = logging.getLogger(__name__)

# Operators may change them (INVITATION_LIMIT_PER_INVITER, INVITATION_LIMIT_PER_ORG; limits' syntax):
# enough to bring a team in at once, too few to make invitations a way to mail strangers.
DEFAULT_LIMITS = {"inviter": "60/hour", "org": "200/day"}
ROLE_RANK = {"member": 0, "admin": 1, "owner": 2}
INVITING_ROLES = ("owner", "admin")


def _verified_keys(user) -> list[str]:
    return list(db.session.scalars(
        db.select(Email.address_key).where(Email.user_id == user.id, Email.verified_at.is_not(None))
    ))


def _addressed_to(user_id):
    """The condition on Invitation rows meant for user ``user_id`` (an id, or a bind parameter standing
    for one): by id, or by one of their verified emails."""
    verified = db.select(Email.address_key).where(Email.user_id == user_id, Email.verified_at.is_not(None))
    return db.or_(Invitation.invitee_id == user_id, Invitation.invitee_email.in_(verified.scalar_subquery()))


def pending_invitations_for(user) -> list[Invitation]:
    return list(
        db.session.scalars(
            db.select(Invitation)
            .join(Organization, Organization.id == Invitation.org_id)
            .where(_addressed_to(user.id), Invitation.state == "pending", Organization.deleted_at.is_(None))
            .options(db.contains_eager(Invitation.org), db.joinedload(Invitation.inviter))
            .order_by(Invitation.id)
        )
    )


def pending_count_for(user) -> int:
    """How many invitations wait for ``user``'s answer (said at sign-in; the navbar's badge reads it
    with the user's accounts)."""
    return db.session.scalar(_pending_count_statement(), {"user_id": user.id})


@functools.cache
def _pending_count_statement():
    # Built once per process, the user a bind parameter: building it cost more than running it.
    return pending_count_query(db.bindparam("user_id"))


def pending_count_query(user_id):
    """The statement behind ``pending_count_for``, for callers that read it with other rows
    (``user_id``: an id, or a bind parameter standing for one)."""
    return (
        db.select(db.func.count())
        .select_from(Invitation)
        .join(Organization, Organization.id == Invitation.org_id)
        .where(_addressed_to(user_id), Invitation.state == "pending", Organization.deleted_at.is_(None))
        .correlate(None)
    )


def pending_invitations_of(org: Organization) -> list[Invitation]:
    return list(
        db.session.scalars(
            db.select(Invitation)
            .filter_by(org_id=org.id, state="pending")
            .options(db.joinedload(Invitation.invitee))
            .order_by(Invitation.id)
        )
    )


def find_invitee(login: str) -> User | None:
    """A user by username (usernames are public; email addresses are never looked up)."""
    try:
        key = username_key((login or "").strip())
    except ValueError:
        return None
    return db.session.scalar(db.select(User).where(User.username_key == key, User.is_active))


def _take_invite_allowance(org: Organization, inviter: User) -> None:
    from flask import current_app

    config = current_app.config
    checks = [(config.get("INVITATION_LIMIT_PER_INVITER", DEFAULT_LIMITS["inviter"]), "inviter", str(inviter.id)),
              (config.get("INVITATION_LIMIT_PER_ORG", DEFAULT_LIMITS["org"]), "org", str(org.id))]
    if not all(ratelimits.allowed(limit, "portal", "invitations", kind, key) for limit, kind, key in checks):
        _fail(_("Too many invitations were sent. Please try again later."))
    for limit, kind, key in checks:
        ratelimits.hit(limit, "portal", "invitations", kind, key)


def invite(org: Organization, inviter: User, login: str, role: str = "member") -> Invitation:
    """Invite a user by username, or an email address, to join ``org`` with ``role``."""
    _check_role(role)
    actor_role = _require(org, inviter, *INVITING_ROLES)
    if role == "owner" and actor_role != "owner":
        _fail(_("Only owners can invite owners."))
    login = (login or "").strip()
    if not login:
        _fail(_("Enter a username or email address."))
    invitee, address = None, None
    if "@" in login:
        try:
            address = email_key(normalize_email(login))
        except ValueError as exc:
            _fail(str(exc))
        shown = address
    else:
        invitee = find_invitee(login)
        if invitee is None:
            _fail(_("There is no user with that username."))
        if invitee.id == inviter.id:
            _fail(_("You cannot invite yourself."))
        if role_of(org, invitee) is not None:
            _fail(_("%(user)s is already a member.", user=invitee.username))
        shown = invitee.username
    _take_invite_allowance(org, inviter)
    invitation = Invitation(
        org_id=org.id, invitee_id=invitee.id if invitee else None, invitee_email=address, inviter_id=inviter.id,
        role=role, pending_key=f"{org.id}:{invitee.id if invitee else address}",
    )
    db.session.add(invitation)
    try:
        db.session.commit()
    except IntegrityError:
        # The unique pending_key: another invitation to the same person is still open.
        _fail(_("%(user)s already has a pending invitation.", user=shown))
    if address:
        _tell_address(invitation, inviter, org, address)
    else:
        _tell_user(invitation, inviter, org, invitee)
    return invitation


def _tell_user(invitation: Invitation, inviter: User, org: Organization, invitee: User) -> None:
    """The invitee learns of it by email (their verified primary address, in their language); the
    navbar counts it until they answer. A failure is logged: the invitation stands."""
    from flask import current_app
    from flask_babel import force_locale

    from portal.notices import _locale
    from portal.plugins import hook

    primary = invitee.primary_email
    if primary is None or not primary.is_verified:
        return
    site = current_app.config.get("SITE_NAME", "Portal")
    locale = _locale(invitee)
    with force_locale(locale):
        subject = _("%(site)s: %(inviter)s invited you to join %(org)s", site=site, inviter=inviter.username,
                    org=org.name)
        body = _("Hello %(username)s,\n\n%(inviter)s invited you to join the organization %(org)s (%(slug)s) on "
                 "%(site)s as %(role)s. Sign in and answer the invitation under Invitations in the navigation "
                 "bar. If you do not know them, decline it.",
                 username=invitee.username, inviter=inviter.username, org=org.name, slug=org.slug, site=site,
                 role=role_label(invitation.role))
    try:
        delivered = hook().portal_send_notice(channel="email", destination=primary.address, subject=subject,
                                              body=body, summary=subject, locale=locale)
    except Exception as exc:  # noqa: BLE001 - the invitation stands; the invitee sees it when signed in
        log.warning("invitation %s not delivered: %s", invitation.id, exc)
        return
    if not delivered:
        log.warning("invitation %s: no plugin delivers email", invitation.id)


def _tell_address(invitation: Invitation, inviter: User, org: Organization, address: str) -> None:
    """The invitation by email goes to the address, whatever is behind it; a failure is logged."""
    from flask import current_app

    from portal.plugins import hook

    site = current_app.config.get("SITE_NAME", "Portal")
    subject = _("%(site)s: %(inviter)s invited you to join %(org)s", site=site, inviter=inviter.username,
                org=org.name)
    body = _("%(inviter)s invited you to join the organization %(org)s (%(slug)s) on %(site)s. To accept, sign "
             "in or sign up with this email address, verify it, and answer the invitation in the "
             "organization center. If you do not know them, ignore this message.",
             inviter=inviter.username, org=org.name, slug=org.slug, site=site)
    try:
        delivered = hook().portal_send_notice(channel="email", destination=address, subject=subject, body=body,
                                              summary=subject, locale=current_app.config["BABEL_DEFAULT_LOCALE"])
    except Exception as exc:  # noqa: BLE001 - the invitation stands; the inviter can tell them otherwise
        log.warning("invitation %s not delivered: %s", invitation.id, exc)
        return
    if not delivered:
        log.warning("invitation %s: no plugin delivers email", invitation.id)


def _still_allowed_role(invitation: Invitation) -> str | None:
    """The role the invitation grants now: at most its inviter's current role; None when the inviter
    can no longer invite (and the invitation is dead)."""
    inviter = invitation.inviter
    inviter_role = role_of(invitation.org, inviter) if inviter is not None else None
    if inviter_role not in INVITING_ROLES:
        return None
    return min(invitation.role, inviter_role, key=ROLE_RANK.__getitem__)


def _answer(invitation_id: int, user: User, state: str) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    mine = invitation is not None and (
        invitation.invitee_id == user.id
        or (invitation.invitee_email is not None and invitation.invitee_email in _verified_keys(user))
    )
    if not mine or invitation.org.is_deleted:
        db.session.rollback()
        raise NotFound(_("There is no such invitation."))
    granted = invitation.role
    if state == "accepted":
        _lock(invitation.org)
        granted = _still_allowed_role(invitation)
        if granted is None:
            db.session.execute(
                db.update(Invitation).where(Invitation.id == invitation.id, Invitation.state == "pending")
                .values(state="cancelled", pending_key=None, answered_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            raise OrgError(_("This invitation is no longer valid: whoever sent it can no longer invite."))
    # Answered exactly once, whatever races with it (a second click, the inviter cancelling).
    result = db.session.execute(
        db.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state == "pending")
        .values(state=state, pending_key=None, answered_at=utcnow(), invitee_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _fail(_("This invitation was already answered or withdrawn."))
    if state == "accepted":
        if role_of(invitation.org, user) is not None:
            _fail(_("You are already a member of this organization."))
        db.session.add(Membership(org_id=invitation.org_id, user_id=user.id, role=granted))
        record("member_added", user, org_id=invitation.org_id, actor=user,
               details={"role": granted, "invited_by": invitation.inviter_id})
    db.session.commit()
    db.session.refresh(invitation)
    return invitation


def accept_invitation(invitation_id: int, user: User) -> Invitation:
    return _answer(invitation_id, user, "accepted")


def decline_invitation(invitation_id: int, user: User) -> Invitation:
    return _answer(invitation_id, user, "declined")


def cancel_invitation(org: Organization, actor: User, invitation_id: int) -> Invitation:
    _require(org, actor, *INVITING_ROLES)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.org_id != org.id:
        db.session.rollback()
        raise NotFound(_("There is no such invitation."))
    result = db.session.execute(
        db.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state == "pending")
        .values(state="cancelled", pending_key=None, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _fail(_("This invitation was already answered or withdrawn."))
    db.session.commit()
    return invitation
