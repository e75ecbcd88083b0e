"""账户信息 and the account switcher: pages about the current account (personal or an
organization's), which every billing page acts on and names prominently."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_login import current_user, login_required

from portal.accounts import plans, quotas
from portal.accounts.access import (
    account_or_404,
    can_manage,
    current_account,
    managers,
    member_role,
    set_current_account,
)
from portal.accounts.formatting import account_display_name, account_handle, account_kind_label, yuan
from portal.accounts.forms import PlanForm
from portal.accounts.plans import PlanError
from portal.realname.guard import IdentityRequired
from portal.accounts.navigation import forget, navigation
from portal.accounts.services import forget_request_accounts_on_writes
from portal.auth.services import is_local_path
from portal.i18n import gettext as _
from portal.ids import parse_id
from portal.i18n import localized

bp = Blueprint("accounts", __name__, url_prefix="/account")
bp.add_app_template_filter(yuan, "yuan")
bp.add_app_template_global(account_kind_label, "account_kind_label")
bp.add_app_template_global(account_handle, "account_handle")


@bp.record_once
def _check_plans(state) -> None:
    # A mistyped PLANS stops startup with the setting's name, rather than failing a page later.
    plans.plans_from_config(state.app.config)
    forget_request_accounts_on_writes()


bp.add_app_template_global(navigation, "account_switcher")


@bp.app_template_global("plan_of")
def plan_of(account, next: bool = False):
    """The account's plan, or (``next``) the one it will be on after this period."""
    return plans.plan((account.next_plan_key if next else None) or account.plan_key)


@bp.before_request
@login_required
def require_sign_in():
    """Every page here acts for the signed-in user."""


@bp.route("/switch", methods=["POST"])
def switch():
    account_id = parse_id(request.form.get("account_id"))
    if account_id is None:
        abort(404)
    account = account_or_404(account_id)
    set_current_account(account)
    forget()
    flash(_("Now acting as %(kind)s %(name)s.", kind=account_kind_label(account), name=account_display_name(account)), "info")
    target = request.form.get("next")
    return redirect(target if is_local_path(target) else url_for("accounts.info"))


@bp.route("/info", endpoint="info")
def info_page():
    account = current_account()
    role = member_role(account, current_user)
    return render_template(
        "accounts/info.html",
        account=account,
        role=role,
        plan=plans.plan(account.plan_key),
        quota_rows=quotas.quota_table(account),
        can_manage=role in ("owner", "admin"),
        managers=[] if account.is_personal or role in ("owner", "admin") else managers(account),
        recharge_available="billing.recharge" in current_app.view_functions,
    )


@bp.route("/plan", methods=["GET", "POST"], endpoint="plan")
def plan_page():
    account = current_account()
    manage = can_manage(account, current_user)
    form = PlanForm()
    if request.method == "POST":
        if not manage:
            abort(403)
        if not form.validate_on_submit():
            return _render_plans(account, manage, form), 400
        plan_key = request.form.get("plan", "")
        required = _identity_required(account, plan_key)
        if required is not None:
            return _render_plans(account, manage, form, identity_required=required), 400
        if request.form.get("confirm") != "1":
            # Money moves only from the confirmation step, which shows what it will cost.
            return redirect(url_for("accounts.plan_confirm", plan=plan_key))
        try:
            change = plans.change_plan(account, plan_key, current_user._get_current_object())
        except PlanError as error:
            flash(error.message, "error")
            return _render_plans(account, manage, form), 400
        except IdentityRequired as required:
            return _render_plans(account, manage, form, identity_required=required), 400
        target = localized(plans.plan(change.to_plan).name)
        if account.next_plan_key:
            flash(_("The plan becomes %(plan)s on %(date)s, when the current period ends.", plan=target,
                    date=format_date(change.effective_at)), "success")
        else:
            flash(_("The plan is now %(plan)s.", plan=target), "success")
        return redirect(url_for("accounts.plan"))
    return _render_plans(account, manage, form)


@bp.get("/plan/confirm", endpoint="plan_confirm")
def plan_confirm_page():
    account = current_account()
    if not can_manage(account, current_user):
        abort(403)
    required = _identity_required(account, request.args.get("plan", ""))
    if required is not None:
        return _render_plans(account, True, PlanForm(), identity_required=required), 400
    try:
        offer = plans.quote(account, request.args.get("plan", ""))
    except PlanError as error:
        flash(error.message, "error")
        return redirect(url_for("accounts.plan"))
    return render_template("accounts/plan_confirm.html", account=account, offer=offer, form=PlanForm(),
                           resource_labels={r.key: r.label for r in quotas.resources()})


@bp.post("/plan/keep", endpoint="plan_keep")
def plan_keep():
    account = current_account()
    form = PlanForm()
    if not can_manage(account, current_user):
        abort(403)
    if form.validate_on_submit() and plans.cancel_scheduled_change(account, current_user._get_current_object()):
        flash(_("The current plan stays; nothing changes when the period ends."), "success")
    return redirect(url_for("accounts.plan"))


def _identity_required(account, plan_key: str) -> IdentityRequired | None:
    """Said before the confirmation step, before any price: a paid plan may need a verified identity."""
    from portal.realname.guard import PAID_PLAN, require_verified_identity

    target = {p.key: p for p in plans.plans()}.get(plan_key)
    if target is None or target.is_free:
        return None
    try:
        require_verified_identity(account, PAID_PLAN)
    except IdentityRequired as required:
        return required
    return None


def _render_plans(account, manage: bool, form, identity_required=None):
    return render_template(
        "accounts/plans.html",
        account=account,
        plans=plans.plans(),
        resource_labels={r.key: r.label for r in quotas.resources()},
        current_plan=plans.plan(account.plan_key),
        history=plans.plan_history(account),
        can_manage=manage,
        form=form,
        identity_required=identity_required,
    )
