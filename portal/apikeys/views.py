"""API密钥: the list of the user's keys, creating one (its secret shown once) and revoking."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.accounts.formatting import account_handle, account_kind_label
from portal.apikeys import services
from portal.auth.stepup import step_up_required
from portal.apikeys.forms import LIFETIME_CHOICES, SCOPE_CHOICES, ApiKeyForm
from portal.apikeys.services import ApiKeyError
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

bp = Blueprint("apikeys", __name__, url_prefix="/user/api-keys")

SCOPE_LABELS = {"read": _l("Read"), "billing": _l("Billing"), "usage": _l("Usage")}


@bp.app_template_global("scope_label")
def scope_label(scope: str) -> str:
    return str(SCOPE_LABELS.get(scope, scope))


@bp.before_request
@login_required
def require_sign_in():
    """Every page here is about the signed-in user's own keys."""


def _me():
    return current_user._get_current_object()


def _account_label(account) -> str:
    return f"{account_kind_label(account)} · {account_handle(account)}"


@bp.get("/", endpoint="index")
def index_page():
    user = _me()
    keys = services.keys_of(user)
    accounts = {a.id: a for a in services.manageable_accounts(user)}
    return render_template("apikeys/index.html", keys=keys, now=utcnow(), accounts=accounts,
                           account_label=_account_label)


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@step_up_required
def new_page():
    """A key is a new way into the account: only right after the person proved who they are."""
    user = _me()
    form = ApiKeyForm()
    account_choices = [("", _("Every account I can see"))] + [
        (str(account.id), _account_label(account)) for account in services.manageable_accounts(user)
    ]
    if form.validate_on_submit():
        try:
            key, secret = services.create_key(user, form.name.data, form.scopes.data, form.lifetime_days,
                                              form.account_id, form.networks.data)
        except ApiKeyError as exc:
            form.add_error(exc.field, exc.message)
        else:
            # The secret is on this page only: never cached, never stored.
            response = make_response(render_template("apikeys/created.html", key=key, secret=secret))
            response.headers["Cache-Control"] = "no-store"
            return response
    status = 400 if form.is_submitted() else 200
    return render_template("apikeys/new.html", form=form, scope_choices=SCOPE_CHOICES,
                           lifetime_choices=LIFETIME_CHOICES, account_choices=account_choices), status


@bp.route("/<int:key_id>/revoke", methods=["GET", "POST"], endpoint="revoke")
def revoke_key(key_id: int):
    """GET is the step before 撤销: which key, and that calls with it stop at once."""
    user = _me()
    key = services.user_key(user, key_id)
    if key is None:
        abort(404)
    if request.method == "GET":
        if not key.is_active(utcnow()):
            return redirect(url_for("apikeys.index"))
        return render_template("apikeys/revoke_confirm.html", key=key)
    if services.revoke_key(user, key):
        flash(_("The key %(name)s was revoked; calls with it are refused from now on.", name=key.name),
              "success")
    return redirect(url_for("apikeys.index"))
