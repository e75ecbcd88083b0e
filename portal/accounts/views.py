"""账户信息 and the account switcher: pages about the current account (personal or an
organization's), which every billing page acts on and names prominently."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.accounts import plans, quotas
from portal.accounts.access import (
    account_or_404,
    can_manage,
    current_account,
    member_role,
    set_current_account,
)
from portal.accounts.formatting import account_handle, account_kind_label, yuan
from portal.accounts.forms import PlanForm
from portal.accounts.plans import PlanError
from portal.accounts.services import accounts_of
from portal.auth.services import is_local_path
from portal.i18n import gettext as _
from portal.i18n import localized

bp = Blueprint("accounts", __name__, url_prefix="/account")
bp.add_app_template_filter(yuan, "yuan")
bp.add_app_template_global(account_kind_label, "account_kind_label")
bp.add_app_template_global(account_handle, "account_handle")


@bp.record_once
def _check_plans(state) -> None:
    # A mistyped PLANS stops startup with the setting's name, rather than failing a page later.
    plans.plans_from_config(state.app.config)


@bp.app_template_global("account_switcher")
def account_switcher() -> dict:
    """For the navbar: the current account and every account the user may switch to."""
    current = current_account()
    return {"current": current, "accounts": accounts_of(current_user)}


@bp.before_request
@login_required
def require_sign_in():
    """Every page here acts for the signed-in user."""


@bp.route("/switch", methods=["POST"])
def switch():
    account_id = request.form.get("account_id", "")
    if not account_id.isdecimal():
        abort(404)
    account = account_or_404(int(account_id))
    set_current_account(account)
    flash(_("Now acting as %(kind)s %(name)s.", kind=account_kind_label(account), name=account_handle(account)), "info")
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
        if form.validate_on_submit():
            try:
                change = plans.change_plan(account, request.form.get("plan", ""), current_user._get_current_object())
            except PlanError as error:
                flash(error.message, "error")
                return _render_plans(account, manage, form), 400
            flash(_("The plan is now %(plan)s.", plan=localized(plans.plan(change.to_plan).name)), "success")
            return redirect(url_for("accounts.plan"))
        return _render_plans(account, manage, form), 400
    return _render_plans(account, manage, form)


def _render_plans(account, manage: bool, form):
    return render_template(
        "accounts/plans.html",
        account=account,
        plans=plans.plans(),
        resource_labels={r.key: r.label for r in quotas.resources()},
        current_plan=plans.plan(account.plan_key),
        history=plans.plan_history(account),
        can_manage=manage,
        form=form,
    )
