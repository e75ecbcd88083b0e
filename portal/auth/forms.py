"""Forms of the sign-up, sign-in and password-reset pages. They check presence and shape; the
rules live in the services."""
from __future__ import annotations

from flask_babel import lazy_pgettext
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l
from portal.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from portal.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from portal.users.usernames import HELP_TEXT as USERNAME_HELP

PASSWORD_HELP = _l(
    "At least 8 characters; long passphrases are best. Common passwords are not accepted."
)


def _required(message):
    return InputRequired(message=message)


def _new_password_fields(label):
    """A new password field and a second one that must repeat it."""
    password = PasswordField(
        label, [_required(_l("Enter a password."))], description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password", "minlength": PASSWORD_MIN_LENGTH,
                   "maxlength": PASSWORD_MAX_LENGTH},
    )
    confirm = PasswordField(
        _l("Confirm password"),
        [_required(_l("Enter the password again.")),
         EqualTo("password", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class SignUpForm(PortalForm):
    username = StringField(
        _l("Username"), [_required(_l("Enter a username."))], description=USERNAME_HELP,
        render_kw={"autocomplete": "username", "maxlength": 32},
    )
    email = StringField(
        _l("Email"), [_required(_l("Enter an email address."))],
        render_kw={"autocomplete": "email", "maxlength": 254, "type": "email"},
    )
    password, confirm = _new_password_fields(lazy_pgettext("field", "Password"))
    submit = SubmitField(_l("Sign up"))


class SignInForm(PortalForm):
    login = StringField(
        _l("Username, email or phone"), [_required(_l("Enter your username, email or phone."))],
        render_kw={"autocomplete": "username", "maxlength": 254},
    )
    password = PasswordField(
        lazy_pgettext("field", "Password"), [_required(_l("Enter your password.")),
                         Length(max=PASSWORD_MAX_LENGTH, message=_l("The password is too long."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class ForgotPasswordForm(PortalForm):
    contact = StringField(
        _l("Email or phone"), [_required(_l("Enter the email address or the phone number of your account."))],
        description=_l("The email address or the phone number you verified in your account."),
        render_kw={"autocomplete": "username", "maxlength": 254},
    )
    submit = SubmitField(_l("Send code"))


class ResetPasswordForm(PortalForm):
    code = StringField(
        _l("Verification code"), [_required(_l("Enter the code we sent you."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6},
    )
    password, confirm = _new_password_fields(_l("New password"))
    submit = SubmitField(_l("Set new password"))


class StepUpForm(ServiceErrorsMixin, PortalForm):
    """Confirming it is you: the password, or a code sent to a primary contact."""

    password = PasswordField(
        lazy_pgettext("field", "Password"),
        [Length(max=PASSWORD_MAX_LENGTH, message=_l("The password is too long."))],
        render_kw={"autocomplete": "current-password"},
    )
    channel = RadioField(_l("Receive the verification code by"), choices=[], validate_choice=False)
    code = StringField(_l("Verification code"), render_kw={
        "maxlength": 6, "inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*"})
    next = HiddenField()


class SignInCodeForm(PortalForm):
    code = StringField(
        _l("Verification code"), [_required(_l("Enter the code we sent you."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6},
    )
    submit = SubmitField(_l("Sign in"))


class SmsSignInForm(PortalForm):
    """验证码登录: the phone, then the code sent to it (not needed to ask for the code)."""

    phone = StringField(
        _l("Phone number"), [_required(_l("Enter your phone number.")), Length(max=32)],
        render_kw={"autocomplete": "tel", "inputmode": "tel", "maxlength": 32},
    )
    code = StringField(
        _l("Verification code"), [Optional(), Length(max=6, message=_l("Enter the 6-digit verification code."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class PhoneSignUpForm(PortalForm):
    """The last step of a sign-up by phone: the phone is verified, a username is needed; a password
    is optional (without one, the user signs in with codes sent to the phone)."""

    username = StringField(
        _l("Username"), [_required(_l("Enter a username."))], description=USERNAME_HELP,
        render_kw={"autocomplete": "username", "maxlength": 32},
    )
    password = PasswordField(
        _l("Password (optional)"), [Optional()],
        description=_l("Without a password, sign in with a code sent to your phone. You can set one later "
                       "in the user center."),
        render_kw={"autocomplete": "new-password", "minlength": PASSWORD_MIN_LENGTH,
                   "maxlength": PASSWORD_MAX_LENGTH},
    )
    confirm = PasswordField(
        _l("Confirm password"), [EqualTo("password", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Create account"))
