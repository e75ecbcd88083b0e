"""The form that creates a key. It only carries fields: the rules live in portal.apikeys.services."""
from __future__ import annotations

from wtforms import SelectMultipleField, StringField, TextAreaField

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l

SCOPE_CHOICES = [
    ("read", _l("Read: accounts, balances, quotas and orders")),
    ("billing", _l("Billing: create recharge orders")),
    ("usage", _l("Usage: reserve and release quota")),
]
LIFETIME_CHOICES = [
    ("7", _l("7 days")),
    ("30", _l("30 days")),
    ("90", _l("90 days")),
    ("180", _l("180 days")),
    ("365", _l("1 year")),
    ("never", _l("Never")),
]


class ApiKeyForm(ServiceErrorsMixin, PortalForm):
    name = StringField(_l("Name"), description=_l("What uses the key, e.g. deploy-bot."),
                       render_kw={"maxlength": 64, "autocomplete": "off"})
    # Choices are the template's to show (SCOPE_CHOICES, LIFETIME_CHOICES, the user's accounts) and
    # the service's to check.
    scopes = SelectMultipleField(_l("Permissions"), default=["read"], validate_choice=False)
    lifetime = StringField(_l("Expires after"), default="90")
    account = StringField(_l("Account"), default="")
    networks = TextAreaField(
        _l("Allowed IP ranges"),
        description=_l("Optional: addresses or ranges the calls must come from, one per line "
                       "(203.0.113.7, 10.0.0.0/8, 2001:db8::/32). Empty: anywhere."),
        render_kw={"rows": 3, "maxlength": 1000, "spellcheck": "false"},
    )

    @property
    def lifetime_days(self) -> int | None | str:
        """Days, None for "never", or the raw text when it is neither (the service refuses it)."""
        value = self.lifetime.data or ""
        if value == "never":
            return None
        return int(value) if value.isascii() and value.isdigit() and len(value) < 5 else value

    @property
    def account_id(self) -> int | None | str:
        value = self.account.data or ""
        if not value:
            return None
        return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else value
