"""Sign up, sign in, sign out, forgot password, and the language switch."""
from __future__ import annotations

import math
import time

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required

from portal.auth import ratelimits, services, signins, stepup
from portal.auth.forms import (ForgotPasswordForm, ResetPasswordForm, SignInCodeForm, SignInForm, SignUpForm,
                               StepUpForm)
from portal.extensions import db
from portal.i18n import gettext as _
from portal.net import client_ip
from portal.users import services as users

bp = Blueprint("auth", __name__, url_prefix="/auth")

# A sign-in waiting for its code (the account saw many failed attempts), and how long it waits.
UNLOCK_KEY = "sign_in_unlock"
UNLOCK_SECONDS = 600


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
                # Just typed their password: the session starts fresh for verifying the new email.
                signins.start_session(user, "sign_up")
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
        except services.CodeRequired as required:
            from portal.mfa import services as mfa

            if mfa.is_enabled(required.user):
                # The second factor stands in for the code to the primary contact.
                return signins.sign_in(required.user, "password", form.next.data, remember=form.remember.data,
                                       unlock=True)
            try:
                destination = services.start_unlock(required.user)
            except services.SignInError as exc:
                form.form_errors.append(exc.message)
            else:
                session[UNLOCK_KEY] = {"user_id": required.user.id, "remember": bool(form.remember.data),
                                       "next": form.next.data or "", "to": _masked(destination),
                                       "expires": time.time() + UNLOCK_SECONDS}
                return redirect(url_for("auth.sign_in_code"))
        except services.SignInError as exc:
            form.form_errors.append(exc.message)
        else:
            return signins.sign_in(user, "password", form.next.data, remember=form.remember.data)
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/sign_in.html", form=form), status


def _masked(destination: str) -> str:
    from portal.users.contacts import mask_email, mask_phone

    return mask_email(destination) if "@" in destination else mask_phone(destination)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code():
    """The right password after many failed attempts on the account: the code sent to its primary
    contact completes the sign-in."""
    pending = session.get(UNLOCK_KEY)
    if not isinstance(pending, dict) or pending.get("expires", 0) < time.time():
        session.pop(UNLOCK_KEY, None)
        return redirect(url_for("auth.sign_in"))
    form = SignInCodeForm()
    if form.validate_on_submit():
        try:
            user = services.finish_unlock(pending["user_id"], form.code.data, client_ip())
        except services.SignInError as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop(UNLOCK_KEY, None)
            return signins.sign_in(user, "password", pending.get("next"), remember=pending.get("remember", False))
    status = 400 if form.errors else 200
    return render_template("auth/sign_in_code.html", form=form, destination=pending.get("to")), status


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    if current_user.is_authenticated:
        users.end_all_sessions(current_user, reason="sign_out")
    signins.end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            answer = services.request_password_reset(form.contact.data, client_ip())
        except services.SignInError as exc:
            form.contact.errors.append(exc.message)
        else:
            session["reset_destination"] = answer.destination
            session["reset_code_sent"] = not answer.retry_after
            # The same answer whether or not an account uses this contact.
            if answer.retry_after:
                flash(_resting_message(answer), "warning")
            else:
                flash(_("If an account uses %(contact)s, we have sent it a verification code.",
                        contact=answer.destination), "info")
            return redirect(url_for("auth.reset_password"))
    return render_template("auth/forgot_password.html", form=form), 400 if form.errors else 200


def _resting_message(answer) -> str:
    """No code went now: say so, and when a new one can be requested."""
    if answer.retry_after <= 90:
        return _("No new code was sent to %(contact)s: codes were requested too often. You can request "
                 "a new one in %(seconds)d seconds.", contact=answer.destination, seconds=answer.retry_after)
    return _("No new code was sent to %(contact)s: codes were requested too often. You can request "
             "a new one in %(minutes)d minutes.", contact=answer.destination,
             minutes=math.ceil(answer.retry_after / 60))


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
            signins.end_session()
            flash(_("Your password has been changed. Sign in with the new password, then check what was "
                    "added to your account recently."), "success")
            # Reset means reset: next, the sign-in methods and contacts added lately, to throw out.
            return redirect(url_for("auth.sign_in", next=url_for("users.security_review")))
    status = 400 if form.errors else 200
    return render_template("auth/reset_password.html", form=form, destination=destination,
                           code_sent=session.get("reset_code_sent", True)), status


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/step-up", methods=["GET", "POST"])
@login_required
def step_up():
    """Confirm it is you (portal.auth.stepup), then back to ``next``."""
    from portal.identities.oauth import linked_providers
    from portal.users.contacts import mask_destination

    user = current_user._get_current_object()
    form = StepUpForm(next=request.args.get("next", ""))
    destinations = stepup.code_destinations(user)
    form.channel.choices = [(channel, mask_destination(channel, value)) for channel, value in destinations.items()]
    if not form.channel.data and destinations:
        form.channel.data = next(iter(destinations))
    from portal.mfa.passkeys import of_user

    context = {"methods": stepup.methods(user), "next_path": _local_or_home(form.next.data),
               "has_passkeys": bool(of_user(user.id)),
               "providers": linked_providers(user.id)}
    if form.validate_on_submit():
        action = request.form.get("action")
        try:
            if action == "send":
                destination = stepup.send_code(user, form.channel.data or "")
                message = _("We sent a verification code to %(destination)s.",
                            destination=mask_destination(form.channel.data, destination))
                if _wants_json():
                    return jsonify(ok=True, message=message)
                flash(message, "success")
                return render_template("auth/step_up.html", form=form, **context)
            if action == "second_factor":
                stepup.check_second_factor(user, form.code.data or "")
            elif action == "code":
                stepup.check_code(user, form.channel.data or "", form.code.data or "")
            else:
                stepup.check_password(user, form.password.data or "")
        except stepup.StepUpError as exc:
            if _wants_json():
                return jsonify(ok=False, field=exc.field, message=exc.message), 400
            form.add_error(exc.field, exc.message)
            return render_template("auth/step_up.html", form=form, **context), 400
        return redirect(context["next_path"])
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/step_up.html", form=form, **context), status


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


# 验证码登录 and sign-up by phone live beside these pages, on the same blueprint.
from portal.auth import sms_views  # noqa: E402,F401
