from __future__ import annotations

from wtforms import StringField, SubmitField

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l


class StartForm(ServiceErrorsMixin, PortalForm):
    """The rules live in portal.realname.identity; the service names the field an error is about."""

    name = StringField(_l("Real name"), render_kw={"autocomplete": "name", "maxlength": 64})
    cert_no = StringField(_l("Resident ID number"),
                          render_kw={"autocomplete": "off", "maxlength": 40, "inputmode": "text"})
    submit = SubmitField(_l("Start verification"))
