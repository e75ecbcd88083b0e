"""Two-factor pages: the settings in the user center, the enrolment, the recovery codes, and the
second-factor step of signing in."""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session, url_for)
from flask_login import current_user, login_required

from portal.auth import signins
from portal.auth.stepup import step_up_required
from portal.billing.qr import qr_svg
from portal.i18n import gettext as _
from portal.mfa import recovery, services, totp
from portal.mfa.errors import SecondFactorError
from portal.mfa.forms import SecondFactorForm, TotpCodeForm

bp = Blueprint("mfa", __name__)


@bp.record_once
def _register_passkey_views(state) -> None:
    from portal.mfa.passkey_views import bp as passkey_bp

    state.app.register_blueprint(passkey_bp)

ENROLMENT_KEY = "totp_enrolment"
# Pages a manager who must turn on two-factor sign-in still reaches.
_ORG_ROOMS = ("orgs", "accounts", "billing", "apikeys")


def _me():
    return current_user._get_current_object()


@bp.before_app_request
def require_for_org_managers():
    """Owners and admins of an organization that requires two-factor sign-in turn it on before
    they manage anything."""
    if request.blueprint not in _ORG_ROOMS or not current_user.is_authenticated:
        return None
    user = _me()
    if not services.required_for(user) or services.is_enabled(user):
        return None
    flash(_("An organization you manage requires two-factor sign-in. Turn it on to continue."), "warning")
    return redirect(url_for("mfa.index"))


@bp.get("/user/two-factor", endpoint="index")
@login_required
def index():
    user = _me()
    return render_template("mfa/index.html", user=user, enabled=services.is_enabled(user),
                           can_enable=services.can_enable(user), required=services.required_for(user),
                           recovery_left=recovery.remaining(user.id), passkeys=_passkeys(user),
                           passkey_form=passkey_form())


def _passkeys(user):
    from portal.mfa import passkeys

    return passkeys.of_user(user.id)


def passkey_form():
    from portal.mfa.forms import PasskeyLabelForm

    return PasskeyLabelForm()


@bp.post("/user/two-factor/totp/start", endpoint="start")
@login_required
@step_up_required
def start():
    try:
        session[ENROLMENT_KEY] = services.start_enrolment(_me())
    except SecondFactorError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("mfa.index"))
    return redirect(url_for("mfa.enrol"))


@bp.route("/user/two-factor/totp", methods=["GET", "POST"], endpoint="enrol")
@login_required
def enrol():
    user = _me()
    row = totp.pending(user.id, session.get(ENROLMENT_KEY))
    if row is None:
        if request.method == "POST":
            flash(_("This set-up has expired or was started elsewhere. Start again."), "warning")
        return redirect(url_for("mfa.index"))
    form = TotpCodeForm()
    if form.validate_on_submit():
        try:
            codes = services.confirm_enrolment(user, session.get(ENROLMENT_KEY), form.code.data)
        except SecondFactorError as exc:
            form.add_error("code", exc.message)
        else:
            session.pop(ENROLMENT_KEY, None)
            flash(_("Two-factor sign-in is on."), "success")
            return _show_codes(codes)
    secret = totp.secret_of(row)
    account = (user.primary_email.address if user.primary_email else user.username)
    uri = totp.provisioning_uri(row, account, current_app.config["SITE_NAME"])
    return render_template("mfa/enrol.html", form=form, qr=qr_svg(uri, _("QR code for your authenticator app")),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4))), \
        400 if form.errors else 200


def _show_codes(codes: list[str]):
    # Shown in this answer only: nothing keeps them but the hashes.
    text = "\n".join([_("%(site)s recovery codes for %(username)s", site=current_app.config["SITE_NAME"],
                        username=_me().username), "", *codes, ""])
    return render_template("mfa/recovery_codes.html", codes=codes, text=text)


@bp.post("/user/two-factor/recovery-codes", endpoint="regenerate")
@login_required
@step_up_required
def regenerate():
    try:
        codes = services.regenerate_recovery_codes(_me())
    except SecondFactorError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("mfa.index"))
    flash(_("New recovery codes are ready; the old ones no longer work."), "success")
    return _show_codes(codes)


@bp.post("/user/two-factor/disable", endpoint="disable")
@login_required
@step_up_required
def disable():
    user = _me()
    if services.required_for(user):
        flash(_("An organization you manage requires two-factor sign-in; it cannot be turned off."), "danger")
        return redirect(url_for("mfa.index"))
    try:
        services.disable(user)
    except SecondFactorError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("mfa.index"))


@bp.route("/auth/two-factor", methods=["GET", "POST"], endpoint="challenge")
def challenge():
    """The second step of signing in, for users with two-factor sign-in on."""
    user = signins.pending_user()
    if user is None:
        return redirect(url_for("auth.sign_in"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            used = services.verify(user, form.code.data)
        except SecondFactorError as exc:
            services.record_failed_second_factor(user)
            form.add_error("code", exc.message)
        else:
            return signins.finish_pending(user, used)
    from portal.mfa import passkeys

    return render_template("mfa/challenge.html", form=form, has_passkeys=bool(passkeys.of_user(user.id))), \
        400 if form.errors else 200
