"""The user center's forms. They only carry fields: the rules live in portal.users.contacts and
portal.users.profile, which name the field an error belongs to."""
from __future__ import annotations

from wtforms import PasswordField, RadioField, StringField
from wtforms.widgets import PasswordInput

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l

# Longer input is refused by the services with a clear message; the browser stops sooner.
CODE_ATTRS = {"maxlength": 6, "inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*"}


class ProfileForm(ServiceErrorsMixin, PortalForm):
    username = StringField(_l("Username"), render_kw={"maxlength": 32, "autocomplete": "username"})
    avatar_url = StringField(
        _l("Avatar link"),
        description=_l("A direct https link to an image, e.g. https://example.com/me.png. Leave empty for none."),
        render_kw={"maxlength": 2048, "inputmode": "url", "data-avatar-input": ""},
    )


class AddEmailForm(ServiceErrorsMixin, PortalForm):
    address = StringField(_l("Email address"), render_kw={"maxlength": 254, "autocomplete": "email",
                                                          "inputmode": "email"})


class CodeForm(ServiceErrorsMixin, PortalForm):
    code = StringField(_l("Verification code"), render_kw=CODE_ATTRS)


class PhoneForm(ServiceErrorsMixin, PortalForm):
    phone = StringField(
        _l("Phone number"),
        description=_l("Mainland China numbers as they are (13800138000); others with + and the country code."),
        render_kw={"maxlength": 32, "autocomplete": "tel", "inputmode": "tel"},
    )
    old_code = StringField(_l("Code sent to your current phone"), render_kw=CODE_ATTRS)
    code = StringField(_l("Code sent to the new phone"), render_kw=CODE_ATTRS)


class PasswordForm(ServiceErrorsMixin, PortalForm):
    # Typed passwords come back when the page is shown again (a wrong code, a code sent without
    # script): only the field that was refused is emptied (see users.views), and the page is no-store.
    old_password = PasswordField(_l("Current password"), widget=PasswordInput(hide_value=False),
                                 render_kw={"autocomplete": "current-password", "maxlength": 1024})
    new_password = PasswordField(_l("New password"), widget=PasswordInput(hide_value=False),
                                 render_kw={"autocomplete": "new-password", "maxlength": 1024})
    channel = RadioField(_l("Receive the verification code by"), choices=[], validate_choice=False)
    code = StringField(_l("Verification code"), render_kw=CODE_ATTRS)
