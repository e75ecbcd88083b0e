"""The user center's own pages: profile, emails, phone and password.

Forms with a "send code" button post ``action=send``; users.js sends those with
``Accept: application/json`` and shows the answer in place, so typed passwords stay put."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from portal.auth.stepup import step_up_required
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.notices import send_notice
from portal.users import contacts, profile
from portal.users.contacts import ContactError
from portal.users.forms import AddEmailForm, CodeForm, PasswordForm, PhoneForm, ProfileForm

bp = Blueprint("users", __name__, url_prefix="/user")


@bp.before_request
@login_required
def require_sign_in():
    """Every page here is the signed-in user's own."""


def _me():
    return current_user._get_current_object()


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _sent(message: str, page: str, form, **context):
    """The answer to a "send code" press: JSON for users.js, the page again otherwise."""
    if _wants_json():
        return jsonify(ok=True, message=message)
    flash(message, "success")
    return render_template(page, form=form, **context)


def _refused(exc: ContactError, page: str, form, **context):
    if _wants_json():
        return jsonify(ok=False, field=exc.field, message=exc.message), 400
    form.add_error(exc.field, exc.message)
    return render_template(page, form=form, **context), 400


def _my_email(email_id: int):
    email = contacts.user_email(_me(), email_id)
    if email is None:
        abort(404)
    return email


# --- 个人信息 ------------------------------------------------------------------------------------

@bp.route("/profile", methods=["GET", "POST"], endpoint="profile")
def profile_page():
    user = _me()
    form = ProfileForm(data={"username": user.username, "avatar_url": user.avatar_url or ""})
    if form.validate_on_submit():
        try:
            profile.update_profile(user, form.username.data or "", form.avatar_url.data or "")
        except ContactError as exc:
            return _refused(exc, "users/profile.html", form, user=user,
                            phone_masked=contacts.mask_phone(user.phone))
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("users.profile"))
    return render_template("users/profile.html", form=form, user=user,
                           phone_masked=contacts.mask_phone(user.phone))


# --- 邮箱 ----------------------------------------------------------------------------------------

def _emails_page(user, add_form=None, code_errors=None, status=200):
    return render_template(
        "users/emails.html", user=user, form=add_form or AddEmailForm(), code_errors=code_errors or {},
        primary_allowed=contacts.can_change_primary_email(user),
    ), status


@bp.get("/emails")
def emails():
    return _emails_page(_me())


@bp.post("/emails", endpoint="add_email")
@step_up_required
def add_email():
    user = _me()
    form = AddEmailForm()
    if form.validate_on_submit():
        try:
            email = contacts.add_email(user, form.address.data or "")
        except ContactError as exc:
            form.add_error(exc.field, exc.message)
            return _emails_page(user, form, status=400)
        try:
            contacts.send_email_code(user, email)
        except ContactError as exc:
            flash(exc.message, "error")
        else:
            flash(_("We sent a verification code to %(address)s.", address=email.address), "success")
        return redirect(url_for("users.emails"))
    return _emails_page(user, form, status=400)


@bp.post("/emails/<id:email_id>/code")
@step_up_required
def email_code(email_id: int):
    user, email = _me(), _my_email(email_id)
    try:
        contacts.send_email_code(user, email)
    except ContactError as exc:
        if _wants_json():
            return jsonify(ok=False, field="code", message=exc.message), 400
        return _emails_page(user, code_errors={email.id: exc.message}, status=400)
    message = _("We sent a verification code to %(address)s.", address=email.address)
    if _wants_json():
        return jsonify(ok=True, message=message)
    flash(message, "success")
    return redirect(url_for("users.emails"))


@bp.post("/emails/<id:email_id>/verify")
@step_up_required
def verify_email(email_id: int):
    user, email = _me(), _my_email(email_id)
    form = CodeForm()
    try:
        contacts.verify_email(user, email, form.code.data or "")
    except ContactError as exc:
        return _emails_page(user, code_errors={email.id: exc.message}, status=400)
    flash(_("%(address)s is verified.", address=email.address), "success")
    return redirect(url_for("users.emails"))


@bp.route("/emails/<id:email_id>/primary", methods=["GET", "POST"])
@step_up_required
def primary_email(email_id: int):
    user, email = _me(), _my_email(email_id)
    form = CodeForm()
    context = {"user": user, "email": email, "needs_code": contacts.primary_change_needs_old_code(user),
               "allowed": contacts.can_change_primary_email(user)}
    if form.validate_on_submit():
        try:
            if request.form.get("action") == "send":
                if not context["needs_code"]:
                    # No verified primary yet (an account signed up by phone): no code to send.
                    return render_template("users/email_primary.html", form=form, **context)
                contacts.send_primary_change_code(user)
                return _sent(_("We sent a verification code to %(address)s.",
                               address=user.primary_email.address), "users/email_primary.html", form, **context)
            contacts.set_primary_email(user, email, form.code.data)
        except ContactError as exc:
            return _refused(exc, "users/email_primary.html", form, **context)
        flash(_("%(address)s is now your primary email address.", address=email.address), "success")
        return redirect(url_for("users.emails"))
    return render_template("users/email_primary.html", form=form, **context)


@bp.post("/emails/<id:email_id>/remove")
@step_up_required
def remove_email(email_id: int):
    user, email = _me(), _my_email(email_id)
    address = email.address
    try:
        contacts.remove_email(user, email)
    except ContactError as exc:
        flash(exc.message, "error")
        return _emails_page(user, status=400)
    flash(_("%(address)s was removed.", address=address), "success")
    return redirect(url_for("users.emails"))


# --- 手机 ----------------------------------------------------------------------------------------

def _phone_form(user, **kwargs) -> PhoneForm:
    form = PhoneForm(**kwargs)
    if user.phone is None:
        form.code.label.text = _("SMS verification code")
    return form


def _phone_context(user) -> dict:
    return {"user": user, "masked_phone": contacts.mask_phone(user.phone),
            "can_change": contacts.can_change_phone(user), "unbind_form": CodeForm(prefix="unbind")}


@bp.get("/phone")
def phone():
    user = _me()
    return render_template("users/phone.html", form=_phone_form(user), **_phone_context(user))


@bp.post("/phone", endpoint="bind_phone")
@step_up_required
def bind_phone():
    user = _me()
    form = _phone_form(user)
    if form.validate_on_submit():
        try:
            if request.form.get("action") == "send":
                number = contacts.send_phone_codes(user, form.phone.data or "")
                return _sent(_("We sent a verification code to %(phone)s.", phone=contacts.mask_phone(number)),
                             "users/phone.html", form, **_phone_context(user))
            number = contacts.bind_phone(user, form.phone.data or "", form.code.data or "", form.old_code.data)
        except ContactError as exc:
            return _refused(exc, "users/phone.html", form, **_phone_context(user))
        flash(_("Your phone %(phone)s is bound; you can sign in with it.", phone=contacts.mask_phone(number)),
              "success")
        return redirect(url_for("users.phone"))
    return render_template("users/phone.html", form=form, **_phone_context(user))


@bp.post("/phone/unbind")
@step_up_required
def unbind_phone():
    user = _me()
    context = _phone_context(user)
    form = context["unbind_form"]
    try:
        if request.form.get("action") == "send":
            contacts.send_unbind_code(user)
            return _sent(_("We sent a verification code to %(phone)s.", phone=context["masked_phone"]),
                         "users/phone.html", _phone_form(user, formdata=None), **context)
        contacts.unbind_phone(user, form.code.data or "")
    except ContactError as exc:
        if _wants_json():
            return jsonify(ok=False, field=exc.field, message=exc.message), 400
        form.add_error("code", exc.message)
        return render_template("users/phone.html", form=_phone_form(user, formdata=None), **context), 400
    flash(_("Your phone was unbound."), "success")
    return redirect(url_for("users.phone"))


# --- 修改密码 ------------------------------------------------------------------------------------

@bp.get("/password")
def password():
    return _password_page()


@bp.post("/password", endpoint="change_password")
@step_up_required
def change_password():
    return _password_page()


def _password_page():
    # The page may carry the passwords just typed (PasswordForm): never kept by a cache.
    response = make_response(_password_answer())
    response.headers["Cache-Control"] = "no-store"
    return response


def _password_answer():
    user = _me()
    form = PasswordForm()
    destinations = profile.password_code_destinations(user)
    form.channel.choices = [(channel, contacts.mask_destination(channel, value))
                            for channel, value in destinations.items()]
    if not form.channel.data and destinations:
        form.channel.data = next(iter(destinations))
    context = {"user": user, "has_password": user.password_hash is not None}
    if form.validate_on_submit():
        args = (user, form.old_password.data or "", form.new_password.data or "", form.channel.data or "")
        try:
            if request.form.get("action") == "send":
                destination = profile.send_password_code(*args)
                shown = contacts.mask_email(destination) if "@" in destination else contacts.mask_phone(destination)
                return _sent(_("We sent a verification code to %(destination)s.", destination=shown),
                             "users/password.html", form, **context)
            profile.change_password(*args, form.code.data or "")
        except ContactError as exc:
            if exc.field in ("old_password", "new_password"):
                form[exc.field].data = ""  # the refused password is typed again; the rest stays
            return _refused(exc, "users/password.html", form, **context)
        # set_password ended every session of the user; this one carries on with the new version.
        login_user(user)
        flash(_("Your password was changed. Other devices were signed out."), "success")
        return redirect(url_for("users.password"))
    return render_template("users/password.html", form=form, **context)


# --- 最近添加的登录方式 ---------------------------------------------------------------------------

@bp.get("/security-review", endpoint="security_review")
def security_review():
    """What was added in the last 30 days that lets someone in: after a password reset, the place to
    throw out whatever a borrowed session planted."""
    from portal.users import recovery

    return render_template("users/security_review.html", user=_me(), ways=recovery.recent_ways_in(_me()),
                           days=recovery.REVIEW_DAYS, form=CodeForm())


@bp.post("/security-review")
@step_up_required
def remove_recent_ways_in():
    from portal.users import recovery

    user = _me()
    removed = recovery.remove_ways_in(user, recovery.recent_ways_in(user))
    if removed:
        send_notice(user, _l("%(count)d sign-in methods or contacts added in the last %(days)d days were removed.",
                             count=len(removed), days=recovery.REVIEW_DAYS))
    flash(_("Removed %(count)d of them.", count=len(removed)), "success")
    return redirect(url_for("users.security_review"))
