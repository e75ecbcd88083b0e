"""The user center's tab bar: the core's tabs and those plugins add through
``portal_user_center_tabs``. Rooms add their tabs to CORE_TABS by endpoint."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from portal.i18n import lazy_gettext as _l
from portal.plugins import hook


@dataclass(frozen=True)
class Tab:
    endpoint: str
    # A string, a lazy translation, or a mapping of locale -> string (plugins).
    label: object
    order: int = 100
    # Tabs that belong to the current account (personal or organization) rather than to the person.
    account_tab: bool = False

    @property
    def url(self) -> str:
        return url_for(self.endpoint)

    @property
    def active(self) -> bool:
        return request.endpoint == self.endpoint


CORE_TABS = [
    Tab("users.profile", _l("Profile"), 10),
    Tab("users.emails", _l("Emails"), 20),
    Tab("users.phone", _l("Phone"), 30),
    Tab("users.password", _l("Change password"), 40),
    Tab("accounts.info", _l("Account info"), 50, account_tab=True),
    Tab("billing.history", _l("Transactions"), 60, account_tab=True),
    Tab("identities.index", _l("Third-party accounts"), 70),
]


def tabs(app) -> list[Tab]:
    extra = [tab for tabs in hook(app).portal_user_center_tabs() for tab in tabs or ()]
    known = set(app.view_functions)
    return sorted((t for t in CORE_TABS + extra if t.endpoint in known), key=lambda t: t.order)


def init_app(app) -> None:
    app.jinja_env.globals["user_center_tabs"] = lambda: tabs(app)
