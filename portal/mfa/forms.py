"""The forms of the two-factor pages: a code, and a passkey's label."""
from __future__ import annotations

from wtforms import StringField
from wtforms.validators import InputRequired, Length

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l


class TotpCodeForm(ServiceErrorsMixin, PortalForm):
    code = StringField(
        _l("Code from the app"), [InputRequired(_l("Enter the 6-digit code your app shows."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 7, "pattern": "[0-9 ]*"},
    )


class SecondFactorForm(ServiceErrorsMixin, PortalForm):
    code = StringField(
        _l("Authentication code or recovery code"),
        [InputRequired(_l("Enter the code from your authenticator app or a recovery code.")),
         Length(max=32, message=_l("The code is too long."))],
        render_kw={"autocomplete": "one-time-code", "maxlength": 32, "autocapitalize": "off", "spellcheck": "false"},
    )


class PasskeyLabelForm(ServiceErrorsMixin, PortalForm):
    label = StringField(
        _l("Name"), [InputRequired(_l("Give the passkey a name.")),
                     Length(max=64, message=_l("At most 64 characters."))],
        description=_l("So you can tell your passkeys apart, e.g. \u201cMy laptop\u201d."),
        render_kw={"maxlength": 64},
    )
