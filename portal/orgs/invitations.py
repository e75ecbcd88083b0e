"""Invitations: an owner or admin invites someone by username or verified email; the invitee
accepts or declines, exactly once. At most one invitation per person and organization is pending
at a time (a unique key, so two admins inviting at the same moment make one invitation).

Like portal.orgs.services, each public function commits or raises OrgError having changed nothing."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.i18n import gettext as _
from portal.orgs.models import Invitation, Membership, Organization
from portal.orgs.services import NotFound, _check_role, _fail, _lock, _require, role_of
from portal.timeutil import utcnow
from portal.users.models import Email, User
from portal.users.services import email_key
from portal.users.usernames import username_key


def pending_invitations_for(user) -> list[Invitation]:
    return list(
        db.session.scalars(
            db.select(Invitation)
            .join(Organization, Organization.id == Invitation.org_id)
            .where(
                Invitation.invitee_id == user.id,
                Invitation.state == "pending",
                Organization.deleted_at.is_(None),
            )
            .options(db.contains_eager(Invitation.org), db.joinedload(Invitation.inviter))
            .order_by(Invitation.id)
        )
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
    """A user by username, or by an email address they verified."""
    login = (login or "").strip()
    if "@" in login:
        return db.session.scalar(
            db.select(User)
            .join(Email, Email.user_id == User.id)
            .where(Email.address_key == email_key(login), Email.verified_at.is_not(None), User.is_active)
        )
    try:
        key = username_key(login)
    except ValueError:
        return None
    return db.session.scalar(db.select(User).where(User.username_key == key, User.is_active))


def invite(org: Organization, inviter: User, login: str, role: str = "member") -> Invitation:
    """Invite a user (by username or verified email) to join ``org`` with ``role``."""
    _check_role(role)
    actor_role = _require(org, inviter, "owner", "admin")
    if role == "owner" and actor_role != "owner":
        _fail(_("Only owners can invite owners."))
    if not (login or "").strip():
        _fail(_("Enter a username or email address."))
    invitee = find_invitee(login)
    if invitee is None:
        _fail(_("There is no user with that username or verified email address."))
    if invitee.id == inviter.id:
        _fail(_("You cannot invite yourself."))
    if role_of(org, invitee) is not None:
        _fail(_("%(user)s is already a member.", user=invitee.username))
    invitation = Invitation(
        org_id=org.id, invitee_id=invitee.id, inviter_id=inviter.id, role=role,
        pending_key=f"{org.id}:{invitee.id}",
    )
    already_invited = _("%(user)s already has a pending invitation.", user=invitee.username)
    db.session.add(invitation)
    try:
        db.session.commit()
    except IntegrityError:
        # The unique pending_key: another invitation to the same person is still open.
        _fail(already_invited)
    return invitation


def _answer(invitation_id: int, user: User, state: str) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.invitee_id != user.id or invitation.org.is_deleted:
        db.session.rollback()
        raise NotFound(_("There is no such invitation."))
    if state == "accepted":
        _lock(invitation.org)
    # Answered exactly once, whatever races with it (a second click, the inviter cancelling).
    result = db.session.execute(
        db.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state == "pending")
        .values(state=state, pending_key=None, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _fail(_("This invitation was already answered or withdrawn."))
    if state == "accepted":
        if role_of(invitation.org, user) is not None:
            _fail(_("You are already a member of this organization."))
        db.session.add(Membership(org_id=invitation.org_id, user_id=user.id, role=invitation.role))
    db.session.commit()
    db.session.refresh(invitation)
    return invitation


def accept_invitation(invitation_id: int, user: User) -> Invitation:
    return _answer(invitation_id, user, "accepted")


def decline_invitation(invitation_id: int, user: User) -> Invitation:
    return _answer(invitation_id, user, "declined")


def cancel_invitation(org: Organization, actor: User, invitation_id: int) -> Invitation:
    _require(org, actor, "owner", "admin")
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
