"""Sign up, sign in, sign out, forgot password, and the language switch."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.auth import ratelimits, services
from portal.auth.forms import ForgotPasswordForm, ResetPasswordForm, SignInForm, SignUpForm
from portal.extensions import db
from portal.i18n import gettext as _
from portal.net import client_ip
from portal.users import services as users

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Kept in the session across sign-in and sign-out; everything else is thrown away.
SURVIVES_ROTATION = ("locale",)


def _start_session(user, remember: bool = False) -> None:
    """Sign ``user`` in on a fresh session, so nothing from before sign-in carries over."""
    kept = {key: session[key] for key in SURVIVES_ROTATION if key in session}
    session.clear()
    session.update(kept)
    login_user(user, remember=remember)


def _end_session() -> None:
    kept = {key: session[key] for key in SURVIVES_ROTATION if key in session}
    logout_user()
    session.clear()
    session.update(kept)


def _home() -> str:
    return url_for("users.profile")


def _local_or_home(target: str | None) -> str:
    return target if services.is_local_path(target) else _home()


@bp.record_once
def _register_index(state) -> None:
    state.app.add_url_rule("/", "index", index)


def index():
    if current_user.is_authenticated:
        return redirect(_home())
    return redirect(url_for("auth.sign_in"))


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    if current_user.is_authenticated:
        return redirect(_home())
    form = SignUpForm()
    if form.validate_on_submit():
        if not ratelimits.hit("sign_up_ip", client_ip()):
            form.form_errors.append(services.too_many_attempts().message)
        else:
            try:
                user, code_sent = services.sign_up(form.username.data, form.email.data, form.password.data)
            except users.RegistrationError as exc:
                getattr(form, exc.field).errors.append(exc.message)
            else:
                _start_session(user)
                if code_sent:
                    flash(_("Welcome! Enter the code we sent to %(address)s to verify your email.",
                            address=user.primary_email.address), "success")
                else:
                    flash(_("Welcome! Verify your email address in the user center."), "success")
                return redirect(url_for("users.emails"))
    return render_template("auth/sign_up.html", form=form), 400 if form.errors else 200


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_local_or_home(form.next.data))
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.login.data, form.password.data, client_ip())
        except services.SignInError as exc:
            form.form_errors.append(exc.message)
        else:
            _start_session(user, remember=form.remember.data)
            return redirect(_local_or_home(form.next.data))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/sign_in.html", form=form), status


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    if current_user.is_authenticated:
        users.end_all_sessions(current_user)
    _end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            destination = services.request_password_reset(form.contact.data, client_ip())
        except services.SignInError as exc:
            form.contact.errors.append(exc.message)
        else:
            session["reset_destination"] = destination
            # The same answer whether or not an account uses this contact.
            flash(_("If an account uses %(contact)s, we have sent it a verification code.",
                    contact=destination), "info")
            return redirect(url_for("auth.reset_password"))
    return render_template("auth/forgot_password.html", form=form), 400 if form.errors else 200


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    destination = session.get("reset_destination")
    if not destination:
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(destination, form.code.data, form.password.data, client_ip())
        except services.SignInError as exc:
            form.code.errors.append(exc.message)
        except ValueError as exc:
            form.password.errors.append(str(exc))
        else:
            _end_session()
            flash(_("Your password has been changed. Sign in with the new password."), "success")
            return redirect(url_for("auth.sign_in"))
    status = 400 if form.errors else 200
    return render_template("auth/reset_password.html", form=form, destination=destination), status


@bp.route("/locale", methods=["POST"])
def set_locale():
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        abort(400, description=_("Unknown language."))
    session["locale"] = locale
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    target = request.form.get("next")
    return redirect(target if services.is_local_path(target) else url_for("index"))
