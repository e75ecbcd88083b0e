"""Passkey pages: registering and removing passkeys in the user center, and using one to sign in (alone
where enabled, or as the second factor) or to step up. The browser side is static/js/passkeys.js:
it asks for the options (JSON), runs the WebAuthn ceremony and posts the answer as a form."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from portal.auth import signins, stepup
from portal.auth.services import is_local_path
from portal.auth.stepup import step_up_required
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.mfa import passkeys
from portal.mfa.errors import SecondFactorError
from portal.mfa.forms import PasskeyLabelForm
from portal.notices import send_notice
from portal.security_log import record

bp = Blueprint("passkeys", __name__)
STEP_UP = "step_up"


def _me():
    return current_user._get_current_object()


def _refused(exc: SecondFactorError):
    return jsonify(ok=False, message=exc.message), 400


@bp.post("/user/passkeys/options", endpoint="registration_options")
@login_required
@step_up_required
def registration_options():
    try:
        return current_app.response_class(passkeys.registration_options(_me()), mimetype="application/json")
    except SecondFactorError as exc:
        return _refused(exc)


@bp.post("/user/passkeys", endpoint="register")
@login_required
@step_up_required
def register():
    user = _me()
    form = PasskeyLabelForm()
    try:
        if not form.validate_on_submit():
            raise SecondFactorError(next(iter(form.label.errors), _("Give the passkey a name.")))
        passkey = passkeys.register(user, form.label.data, request.form.get("credential", ""))
        record("passkey_added", user, details={"label": passkey.label})
        db.session.commit()
    except SecondFactorError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("mfa.index"))
    send_notice(user, _l("A passkey (%(label)s) was added to your account; it can now be used to sign in.",
                         label=passkey.label))
    flash(_("The passkey %(label)s was added.", label=passkey.label), "success")
    return redirect(url_for("mfa.index"))


@bp.post("/user/passkeys/<id:passkey_id>/delete", endpoint="remove")
@login_required
@step_up_required
def remove(passkey_id):
    user = _me()
    passkey = passkeys.remove(user, passkey_id)
    if passkey is None:
        abort(404)
    label = passkey.label
    record("passkey_removed", user, details={"label": label})
    db.session.commit()
    send_notice(user, _l("The passkey %(label)s was removed from your account.", label=label))
    flash(_("The passkey %(label)s was removed.", label=label), "success")
    return redirect(url_for("mfa.index"))


def _ceremony():
    """(purpose, user) of the passkey use this browser may start, or a 404."""
    purpose = request.form.get("purpose")
    if purpose == passkeys.SECOND_FACTOR:
        user = signins.pending_user()
        if user is not None:
            return purpose, user
    elif purpose == STEP_UP and current_user.is_authenticated:
        if stepup.SECOND_FACTOR in stepup.methods(_me()):
            return purpose, _me()
    elif purpose == passkeys.SIGN_IN and current_app.config.get("PASSKEY_SIGN_IN_ENABLED"):
        return purpose, None
    abort(404)


@bp.post("/auth/passkey/options", endpoint="options")
def options():
    purpose, user = _ceremony()
    return current_app.response_class(passkeys.authentication_options(purpose, user), mimetype="application/json")


@bp.post("/auth/passkey", endpoint="use")
def use():
    purpose, user = _ceremony()
    next_path = request.form.get("next")
    back = {passkeys.SECOND_FACTOR: url_for("mfa.challenge"), STEP_UP: url_for("auth.step_up", next=next_path),
            passkeys.SIGN_IN: url_for("auth.sign_in")}[purpose]
    try:
        passkey = passkeys.authenticate(purpose, request.form.get("credential", ""), user)
    except SecondFactorError as exc:
        flash(exc.message, "danger")
        return redirect(back)
    if purpose == passkeys.SECOND_FACTOR:
        return signins.finish_pending(user, "passkey")
    if purpose == STEP_UP:
        stepup.mark_fresh()
        return redirect(next_path if is_local_path(next_path) else url_for("users.profile"))
    from portal.users.models import User

    owner = db.session.get(User, passkey.user_id)
    if owner is None or not owner.is_active:
        flash(_("This passkey is not registered here."), "danger")
        return redirect(back)
    signins.start_session(owner, "passkey")
    return redirect(next_path if is_local_path(next_path) else url_for("users.profile"))
