"""组织中心: organizations, their members and invitations.

Every page names an organization by slug; anyone who is not a member gets 404, whatever exists.
Actions call one service each, which re-checks the actor's role and says why when it refuses."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.accounts.access import set_current_account
from portal.accounts.navigation import forget
from portal.i18n import gettext as _
from portal.orgs import invitations, services
from portal.orgs.forms import CreateOrgForm, DeleteOrgForm, InviteForm, MemberForm, OrgProfileForm
from portal.orgs.services import NotFound, OrgError, role_label

bp = Blueprint("orgs", __name__, url_prefix="/orgs")
bp.add_app_template_global(role_label, "role_label")


@bp.before_request
@login_required
def require_sign_in():
    """Every page here acts for the signed-in user."""


def _me():
    return current_user._get_current_object()


def _org_or_404(slug: str):
    """The organization and the user's role in it; 404 for non-members and deleted ones.

    A page of the organization center makes the organization the current account: the navbar, the
    heading and the tabs then all name it, and 账户信息 or 交易记录 stay with it."""
    org = services.find_org(slug)
    role = services.role_of(org, _me())
    if role is None:
        abort(404)
    set_current_account(services.org_account(org))
    forget()
    return org, role


def _user_id() -> int:
    form = MemberForm()
    if not form.validate_on_submit() or form.user_id.data is None:
        abort(400, description=_("Choose a member."))
    return form.user_id.data


def _members_page(org, role: str, error: str | None = None, invite_form=None):
    manage = role in ("owner", "admin")
    return render_template(
        "orgs/members.html",
        org=org,
        role=role,
        can_manage=manage,
        members=services.members(org),
        invitations=invitations.pending_invitations_of(org) if manage else [],
        invite_form=invite_form or InviteForm(formdata=None),
        account=services.org_account(org),
        error=error,
    ), 400 if error else 200


def _act(slug: str, action, success: str, *roles: str, invite_form=None):
    """Run a member-management action for the org ``slug``: back to its members page on success,
    the page again with the reason (and 400) when the service refused."""
    org, role = _org_or_404(slug)
    if roles and role not in roles:
        abort(403)
    try:
        action(org)
    except NotFound:
        abort(404)
    except OrgError as error:
        return _members_page(org, role, error.message, invite_form)
    flash(success, "success")
    return redirect(url_for("orgs.members", slug=org.slug))


@bp.route("/", endpoint="index")
def index():
    return render_template(
        "orgs/index.html",
        memberships=services.memberships_of(_me()),
        invitations=invitations.pending_invitations_for(_me()),
    )


@bp.route("/new", methods=["GET", "POST"], endpoint="create")
def create():
    form = CreateOrgForm()
    if form.validate_on_submit():
        try:
            org = services.create_organization(_me(), form.slug.data, form.name.data)
        except OrgError as error:
            form.add_error("slug" if "slug" in error.message.lower() else None, error.message)
            return render_template("orgs/new.html", form=form), 400
        set_current_account(services.org_account(org))
        flash(_("Organization %(slug)s created; you are its owner.", slug=org.slug), "success")
        return redirect(url_for("orgs.members", slug=org.slug))
    return render_template("orgs/new.html", form=form), 400 if form.errors else 200


@bp.route("/invitations", endpoint="invitations")
def invitation_list():
    return render_template("orgs/invitations.html", invitations=invitations.pending_invitations_for(_me()))


@bp.route("/invitations/<id:invitation_id>/<any(accept, decline):answer>", methods=["POST"])
def answer_invitation(invitation_id: int, answer: str):
    respond = invitations.accept_invitation if answer == "accept" else invitations.decline_invitation
    try:
        invitation = respond(invitation_id, _me())
    except NotFound:
        abort(404)
    except OrgError as error:
        return render_template(
            "orgs/invitations.html", invitations=invitations.pending_invitations_for(_me()), error=error.message
        ), 400
    if answer == "decline":
        flash(_("Invitation declined."), "info")
        return redirect(url_for("orgs.invitations"))
    forget()
    flash(_("You joined %(org)s.", org=invitation.org.name), "success")
    return redirect(url_for("orgs.profile", slug=invitation.org.slug))


@bp.route("/<slug>", methods=["GET", "POST"], endpoint="profile")
def profile(slug: str):
    """组织信息: what the organization is; owners and admins edit its name, description and avatar."""
    org, role = _org_or_404(slug)
    manage = role in ("owner", "admin")
    form = OrgProfileForm(data={"name": org.name, "description": org.description or "",
                                "avatar_url": org.avatar_url or ""})
    if request.method == "POST":
        if not manage:
            abort(403)
        if form.validate_on_submit():
            try:
                services.update_profile(org, _me(), form.name.data or "", form.description.data or "",
                                        form.avatar_url.data or "")
            except OrgError as error:
                form.add_error(None, error.message)
            else:
                flash(_("The organization's information was saved."), "success")
                return redirect(url_for("orgs.profile", slug=org.slug))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("orgs/profile.html", org=org, role=role, can_manage=manage, form=form,
                           members=len(services.members(org))), status


@bp.route("/<slug>/members", endpoint="members")
def members(slug: str):
    return _members_page(*_org_or_404(slug))


@bp.route("/<slug>/invitations", methods=["POST"], endpoint="invite")
def invite(slug: str):
    form = InviteForm()
    if not form.validate_on_submit():
        abort(400)
    invitee = (form.login.data or "").strip()
    return _act(
        slug, lambda org: invitations.invite(org, _me(), invitee, form.role.data or "member"),
        _("%(who)s was invited.", who=invitee), "owner", "admin", invite_form=form,
    )


@bp.route("/<slug>/invitations/<id:invitation_id>/cancel", methods=["POST"])
def cancel_invitation(slug: str, invitation_id: int):
    return _act(
        slug, lambda org: invitations.cancel_invitation(org, _me(), invitation_id),
        _("Invitation withdrawn."), "owner", "admin",
    )


@bp.route("/<slug>/members/role", methods=["POST"], endpoint="change_role")
def change_role(slug: str):
    user_id, role = _user_id(), request.form.get("role", "")
    return _act(
        slug, lambda org: services.change_role(org, _me(), user_id, role),
        _("Role changed."), "owner", "admin",
    )


@bp.route("/<slug>/members/remove", methods=["GET", "POST"], endpoint="remove_member")
def remove_member(slug: str):
    if request.method == "GET":
        return _confirm_removal(slug)
    user_id = _user_id()
    return _act(
        slug, lambda org: services.remove_member(org, _me(), user_id),
        _("Member removed."), "owner", "admin",
    )


def _confirm_removal(slug: str):
    """The step before 移除: who leaves the organization, and what they lose."""
    org, role = _org_or_404(slug)
    if role not in ("owner", "admin"):
        abort(403)
    user_id = request.args.get("user_id", type=int)
    member = next((m for m in services.members(org) if m.user_id == user_id), None)
    if member is None or member.user_id == _me().id:
        abort(404)
    return render_template("orgs/confirm.html", org=org, action="remove", member=member)


@bp.route("/<slug>/leave", methods=["GET", "POST"], endpoint="leave")
def leave(slug: str):
    org, role = _org_or_404(slug)
    if request.method == "GET":
        return render_template("orgs/confirm.html", org=org, action="leave", role=role)
    try:
        services.leave(org, _me())
    except OrgError as error:
        return _members_page(org, role, error.message)
    forget()
    flash(_("You left %(org)s.", org=org.name), "info")
    return redirect(url_for("orgs.index"))


@bp.route("/<slug>/delete", methods=["GET", "POST"], endpoint="delete")
def delete(slug: str):
    org, role = _org_or_404(slug)
    if role != "owner":
        abort(403)
    form = DeleteOrgForm()
    if form.validate_on_submit():
        if (form.confirm.data or "").strip().lower() != org.slug:
            form.add_error("confirm", _("Type the slug %(slug)s exactly to confirm.", slug=org.slug))
        else:
            try:
                services.delete_organization(org, _me())
            except OrgError as error:
                form.add_error(None, error.message)
            else:
                flash(_("Organization %(slug)s deleted.", slug=org.slug), "info")
                return redirect(url_for("orgs.index"))
    account = services.org_account(org)
    status = 400 if form.errors or form.form_errors else 200
    return render_template("orgs/delete.html", org=org, form=form, account=account), status
