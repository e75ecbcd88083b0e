"""Organizations: creating them, members and their roles, leaving and deleting (invitations are
in portal.orgs.invitations).

Each public function is one user action: it checks the actor may do it, changes the database and
commits, or raises OrgError (with a translated ``message``) having changed nothing.

Every change to an organization's members first takes a write lock on the organization's row
(``_lock``), so that rules spanning several rows ("always at least one owner") hold under
concurrent requests on PostgreSQL as they do on SQLite, where writers queue anyway.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy.exc import IntegrityError

from portal.accounts.models import Account
from portal.accounts.services import open_org_account
from portal.extensions import db
from portal.security_log import record
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import DESCRIPTION_MAX, ROLES, Invitation, Membership, Organization
from portal.timeutil import utcnow
from portal.users.models import User

SLUG_MIN, SLUG_MAX, NAME_MAX = 2, 39, 64
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
# Slugs appear in URLs and in the console next to the platform's own pages.
RESERVED_SLUGS = frozenset(
    """about account accounts admin administrator api app apps assets auth billing blog console
    dashboard default delete docs edit help home invitations login logout me new null official
    org orgs organization organizations owner personal portal pricing register root security
    settings sign-in sign-out sign-up signin signout signup static status support system team
    undefined user users www""".split()
)


class OrgError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(OrgError):
    """The thing named does not exist for this user (pages answer 404)."""


# -- checks ---------------------------------------------------------------------------------------

def normalize_slug(raw: str) -> str:
    """The slug as stored, or OrgError. Nothing is guessed: look-alike letters are refused."""
    slug = (raw or "").strip()
    if not slug:
        raise OrgError(_("Enter a slug."))
    if not slug.isascii():
        raise OrgError(_("The slug may contain only letters a-z, digits and hyphens (no other scripts)."))
    slug = slug.lower()
    if len(slug) < SLUG_MIN or len(slug) > SLUG_MAX:
        raise OrgError(_("The slug must be %(min)d to %(max)d characters long.", min=SLUG_MIN, max=SLUG_MAX))
    if not SLUG_PATTERN.match(slug):
        raise OrgError(
            _("The slug may contain only letters a-z, digits and single hyphens, not at either end.")
        )
    if slug in RESERVED_SLUGS:
        raise OrgError(_("%(slug)s is reserved; choose another slug.", slug=slug))
    return slug


def normalize_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", (raw or "")).strip()
    if not name:
        raise OrgError(_("Enter a display name."))
    if len(name) > NAME_MAX:
        raise OrgError(_("The display name can have at most %(count)d characters.", count=NAME_MAX))
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise OrgError(_("The display name contains control characters."))
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise OrgError(_("Unknown role."))
    return role


# -- reading --------------------------------------------------------------------------------------

def find_org(slug: str) -> Organization | None:
    """A live (not deleted) organization by slug, any case."""
    return db.session.scalar(
        db.select(Organization).where(
            Organization.slug_key == (slug or "").lower(), Organization.deleted_at.is_(None)
        )
    )


def role_of(org: Organization, user) -> str | None:
    if org is None or org.is_deleted or user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        db.select(Membership.role).filter_by(org_id=org.id, user_id=user.id)
    )


def memberships_of(user) -> list[Membership]:
    """The user's memberships in live organizations, with each organization loaded."""
    return list(
        db.session.scalars(
            db.select(Membership)
            .join(Organization, Organization.id == Membership.org_id)
            .where(Membership.user_id == user.id, Organization.deleted_at.is_(None))
            .options(db.contains_eager(Membership.org))
            .order_by(Organization.slug_key)
        )
    )


def members(org: Organization) -> list[Membership]:
    order = db.case({"owner": 0, "admin": 1}, value=Membership.role, else_=2)
    return list(
        db.session.scalars(
            db.select(Membership)
            .filter_by(org_id=org.id)
            .options(db.joinedload(Membership.user))
            .order_by(order, Membership.id)
        )
    )


def org_account(org: Organization) -> Account:
    return db.session.scalar(db.select(Account).filter_by(org_id=org.id))


# -- writing --------------------------------------------------------------------------------------

def _lock(org: Organization) -> None:
    """Write-lock the organization's row until commit; OrgError when it was deleted meanwhile."""
    result = db.session.execute(
        db.update(Organization)
        .where(Organization.id == org.id, Organization.deleted_at.is_(None))
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise OrgError(_("This organization no longer exists."))


def _fail(message: str):
    db.session.rollback()
    raise OrgError(message)


def _require(org: Organization, actor, *roles: str) -> str:
    role = role_of(org, actor)
    if role not in roles:
        _fail(_("You do not have permission to do that in this organization."))
    return role


def create_organization(creator: User, slug: str, name: str) -> Organization:
    """A new organization owned by ``creator``, with its own account on the trial plan."""
    slug = normalize_slug(slug)
    name = normalize_name(name)
    taken = _("The slug %(slug)s is already taken.", slug=slug)
    if db.session.scalar(db.select(Organization.id).filter_by(slug_key=slug)) is not None:
        raise OrgError(taken)
    org = Organization(slug=slug, slug_key=slug, name=name, created_by_id=creator.id)
    db.session.add(org)
    db.session.add(Membership(org=org, user_id=creator.id, role="owner"))
    open_org_account(org)
    db.session.flush()
    record("member_added", creator, org_id=org.id, actor=creator, details={"role": "owner", "created": True})
    try:
        db.session.commit()
    except IntegrityError:
        # Someone took the slug between the check and the insert.
        _fail(taken)
    return org


def update_profile(org: Organization, actor: User, name: str, description: str, avatar_url: str) -> Organization:
    """组织信息: owners and admins change the display name, description and avatar link (the slug
    stays: it is in links). Every field is checked before any changes."""
    from portal.users.profile import ProfileError, normalize_avatar_url

    name = normalize_name(name)
    description = unicodedata.normalize("NFC", description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise OrgError(_("The description can have at most %(count)d characters.", count=DESCRIPTION_MAX))
    if any(unicodedata.category(ch) == "Cc" and ch not in "\r\n" for ch in description):
        raise OrgError(_("The description contains control characters."))
    try:
        avatar = normalize_avatar_url(avatar_url)
    except ProfileError as error:
        raise OrgError(error.message) from None
    _lock(org)
    _require(org, actor, "owner", "admin")
    org.name, org.description, org.avatar_url = name, description or None, avatar
    db.session.commit()
    return org


def _membership(org: Organization, user_id: int) -> Membership:
    membership = db.session.scalar(
        db.select(Membership)
        .filter_by(org_id=org.id, user_id=user_id)
        .execution_options(populate_existing=True)
    )
    if membership is None:
        _fail(_("That person is not a member of this organization."))
    return membership


def _owner_count(org: Organization) -> int:
    return db.session.scalar(
        db.select(db.func.count()).select_from(Membership).filter_by(org_id=org.id, role="owner")
    )


def change_role(org: Organization, actor: User, user_id: int, role: str) -> Membership:
    """Owners change anyone's role; admins move people between admin and member."""
    _check_role(role)
    _lock(org)
    actor_role = _require(org, actor, "owner", "admin")
    membership = _membership(org, user_id)
    if actor_role != "owner" and "owner" in (role, membership.role):
        _fail(_("Only owners can make someone an owner or change an owner's role."))
    if membership.role == role:
        _fail(_("%(user)s already has the role %(role)s.",
                user=membership.user.username, role=role_label(role)))
    if membership.role == "owner" and _owner_count(org) <= 1:
        _fail(_("An organization needs at least one owner: make someone else an owner first."))
    record("member_role_changed", user_id=user_id, org_id=org.id, actor=actor,
           details={"from": membership.role, "to": role})
    membership.role = role
    db.session.commit()
    return membership


def remove_member(org: Organization, actor: User, user_id: int) -> None:
    """Owners remove anyone, admins remove admins and members; the last owner stays."""
    _lock(org)
    actor_role = _require(org, actor, "owner", "admin")
    membership = _membership(org, user_id)
    if membership.role == "owner" and actor_role != "owner":
        _fail(_("Only owners can remove an owner."))
    if membership.role == "owner" and _owner_count(org) <= 1:
        _fail(_("An organization needs at least one owner: make someone else an owner first."))
    record("member_removed", user_id=user_id, org_id=org.id, actor=actor, details={"role": membership.role})
    db.session.delete(membership)
    db.session.commit()


def leave(org: Organization, user: User) -> None:
    _lock(org)
    membership = _membership(org, user.id)
    if membership.role == "owner" and _owner_count(org) <= 1:
        _fail(_("You are the last owner: make someone else an owner before leaving."))
    record("member_removed", user, org_id=org.id, actor=user, details={"role": membership.role, "left": True})
    db.session.delete(membership)
    db.session.commit()


def delete_organization(org: Organization, actor: User) -> None:
    """Owners only, at zero balance. Soft: the organization, its account and memberships stay for
    audit, invisible everywhere; pending invitations are withdrawn; the account is closed, so a
    payment that still arrives is held for an operator rather than credited to nobody's account.

    Pending recharges are first closed at their channel (re-queried: a payment that won the race is
    credited, and the balance then blocks the deletion)."""
    _require(org, actor, "owner")
    _close_pending_orders(org)
    _lock(org)
    _require(org, actor, "owner")
    # Locks the account row too: a payment or a new order landing meanwhile waits, then finds the
    # account closed (and is held, or refused).
    result = db.session.execute(
        db.update(Account)
        .where(Account.org_id == org.id, Account.balance_fen == 0, Account.closed_at.is_(None))
        .values(closed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _fail(_("The organization's balance must be zero before it can be deleted."))
    if _pending_orders(org):
        _fail(_("A recharge of this organization was started meanwhile; close it, then delete again."))
    db.session.execute(
        db.update(Invitation)
        .where(Invitation.org_id == org.id, Invitation.state == "pending")
        .values(state="cancelled", pending_key=None, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        db.update(Organization)
        .where(Organization.id == org.id)
        .values(deleted_at=utcnow(), deleted_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _pending_orders(org: Organization) -> list:
    from portal.billing.models import PENDING, Order

    return list(db.session.scalars(
        db.select(Order).join(Account, Account.id == Order.account_id)
        .where(Account.org_id == org.id, Order.state == PENDING).order_by(Order.id)
    ))


def _close_pending_orders(org: Organization) -> None:
    """Close every pending recharge of the organization at its channel, or raise OrgError (an order
    that cannot be confirmed closed could still be paid)."""
    from portal.billing import reconcile
    from portal.billing.channels import ChannelError, payment_channels

    channels = payment_channels()
    for order in _pending_orders(org):
        channel = channels.get(order.channel)
        failed = channel is None
        if channel is not None:
            try:
                reconcile.cancel(order, channel)
            except ChannelError:
                failed = True
        if failed:
            db.session.rollback()
            _fail(_("The pending recharge %(order)s could not be closed at its payment channel; "
                    "try again later.", order=order.id))


ROLE_LABELS = {"owner": _l("Owner"), "admin": _l("Admin"), "member": _l("Member")}


def role_label(role: str) -> str:
    # Lazy labels: one translation per call (the switcher and member lists call it once a row).
    label = ROLE_LABELS.get(role)
    return str(label) if label is not None else role
