"""验证码登录 and sign-up by phone: the pages (the rules are in portal.auth.sms).

One form asks for the phone, sends the code (``action=send``; users.js posts it in the background
and counts down) and checks it. A right code signs in the phone's account (through the second factor
when it is on); for a phone of nobody, with phone sign-up on, it keeps the verified phone in the
session for a few minutes and the sign-up page asks for a username and, optionally, a password.
"""
from __future__ import annotations

import math
import time

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from portal.auth import ratelimits, services, signins, sms
from portal.auth.forms import PhoneSignUpForm, SmsSignInForm
from portal.auth.views import bp
from portal.i18n import gettext as _
from portal.net import client_ip
from portal.users import services as users

# The phone a code just verified, waiting for the sign-up form, and how long it waits.
PHONE_SIGN_UP_KEY = "phone_sign_up"
PHONE_SIGN_UP_SECONDS = 600


def _masked(phone: str) -> str:
    from portal.users.contacts import mask_phone

    return mask_phone(phone)


def _sent_message(answer: sms.CodeRequest) -> str:
    if answer.retry_after:
        if answer.retry_after <= 90:
            return _("No new code was sent to %(contact)s: codes were requested too often. You can request "
                     "a new one in %(seconds)d seconds.", contact=_masked(answer.phone),
                     seconds=answer.retry_after)
        return _("No new code was sent to %(contact)s: codes were requested too often. You can request "
                 "a new one in %(minutes)d minutes.", contact=_masked(answer.phone),
                 minutes=math.ceil(answer.retry_after / 60))
    if sms.sign_up_enabled():
        # Every valid number gets a code: for signing in, or for signing up.
        return _("We sent a verification code to %(phone)s.", phone=_masked(answer.phone))
    return _("If an account uses %(contact)s, we have sent it a verification code.", contact=_masked(answer.phone))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _code_page(signing_up: bool):
    form = SmsSignInForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("users.profile"))
    template = "auth/sign_in_sms.html"
    context = {"signing_up": signing_up, "sign_up_enabled": sms.sign_up_enabled(),
               "action": url_for("auth.sign_up_phone" if signing_up else "auth.sign_in_sms")}
    if not form.validate_on_submit():
        if _wants_json() and request.method == "POST":
            message = next(iter(form.phone.errors or form.code.errors or [_("Please try again.")]))
            return jsonify(ok=False, message=message), 400
        status = 400 if form.errors else 200
        return render_template(template, form=form, **context), status
    if request.form.get("action") == "send":
        try:
            answer = sms.request_code(form.phone.data, client_ip())
        except services.SignInError as exc:
            if _wants_json():
                return jsonify(ok=False, message=exc.message), 400
            form.phone.errors.append(exc.message)
            return render_template(template, form=form, **context), 400
        message = _sent_message(answer)
        if _wants_json():
            return jsonify(ok=not answer.retry_after, message=message)
        flash(message, "warning" if answer.retry_after else "info")
        return render_template(template, form=form, **context)
    if not form.code.data:
        form.code.errors.append(_("Enter the code we sent you."))
        return render_template(template, form=form, **context), 400
    try:
        accepted = sms.check_code(form.phone.data, form.code.data, client_ip())
    except services.SignInError as exc:
        form.code.errors.append(exc.message)
        return render_template(template, form=form, **context), 400
    if accepted.user is not None:
        return signins.sign_in(accepted.user, "sms_code", form.next.data, remember=form.remember.data)
    session[PHONE_SIGN_UP_KEY] = {"phone": accepted.phone, "expires": time.time() + PHONE_SIGN_UP_SECONDS}
    return redirect(url_for("auth.sign_up_phone"))


@bp.route("/sign-in/sms", methods=["GET", "POST"])
def sign_in_sms():
    """验证码登录."""
    return _code_page(signing_up=False)


def _verified_phone() -> str | None:
    pending = session.get(PHONE_SIGN_UP_KEY)
    if not isinstance(pending, dict) or pending.get("expires", 0) < time.time():
        session.pop(PHONE_SIGN_UP_KEY, None)
        return None
    return pending.get("phone")


@bp.route("/sign-up/phone", methods=["GET", "POST"])
def sign_up_phone():
    """Sign-up by phone: the code first (the same form as 验证码登录), then a username."""
    if not sms.sign_up_enabled():
        session.pop(PHONE_SIGN_UP_KEY, None)
        return render_template("auth/sign_up_phone_off.html"), 403
    if current_user.is_authenticated:
        return redirect(url_for("users.profile"))
    phone = _verified_phone()
    if phone is None:
        return _code_page(signing_up=True)
    form = PhoneSignUpForm()
    if form.validate_on_submit():
        if not ratelimits.hit("sign_up_ip", client_ip()):
            form.form_errors.append(services.too_many_attempts().message)
        else:
            try:
                user = users.register_phone_user(form.username.data, phone, form.password.data or None)
            except users.RegistrationError as exc:
                if exc.field == "phone":
                    session.pop(PHONE_SIGN_UP_KEY, None)
                    flash(exc.message, "warning")
                    return redirect(url_for("auth.sign_in_sms"))
                getattr(form, exc.field).errors.append(exc.message)
            else:
                signins.start_session(user, "sign_up")
                flash(_("Welcome! Your account was created with the phone %(phone)s. You can add an email "
                        "address in the user center.", phone=_masked(phone)), "success")
                return redirect(url_for("users.profile"))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/sign_up_phone.html", form=form, phone=_masked(phone)), status
