"""The two centers and their tab bars.

- 用户中心 (user center): what belongs to the person (profile, emails, phone, password, third-party
  accounts, real name, API keys, security), plus the personal account's pages while it is current.
- 组织中心 (organization center): what belongs to the current organization: 组织信息, 成员,
  账户信息, 交易记录, 套餐.

Pages about an account (账户信息, 交易记录, 套餐, recharge, orders) belong to whichever account is
current, so their heading and tabs follow the navbar's account (portal.accounts.navigation). Plugins
add tabs through ``portal_user_center_tabs``; rooms add theirs to CORE_TABS by endpoint."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import lazy_pgettext

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
    # Shown only when this setting is set (a feature the operator may leave off).
    setting: str | None = None
    # Sub-pages and form posts of this tab: it stays highlighted on them.
    also: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return url_for(self.endpoint)


@dataclass(frozen=True)
class ShownTab:
    endpoint: str
    label: object
    url: str
    active: bool


@dataclass(frozen=True)
class Center:
    """Which center a page is in, its heading and its tabs."""

    kind: str  # "user" or "org"
    heading: str
    tabs: list[ShownTab]
    org: object = None
    # In the user center while an organization is current: the account to switch to for its pages.
    personal_account: object = None


ACCOUNT_PAGES = ("billing.recharge", "billing.order", "billing.pay", "billing_refunds")
CORE_TABS = [
    Tab("users.profile", _l("Profile"), 10),
    Tab("users.emails", _l("Emails"), 20,
        also=("users.add_email", "users.email_code", "users.verify_email", "users.primary_email", "users.remove_email")),
    Tab("users.phone", _l("Phone"), 30, also=("users.bind_phone", "users.unbind_phone")),
    Tab("users.password", _l("Change password"), 40, also=("users.change_password",)),
    Tab("accounts.info", _l("Account info"), 50, account_tab=True,
        also=(*ACCOUNT_PAGES, "accounts.plan", "accounts.plan_confirm", "accounts.plan_keep")),
    Tab("billing.history", _l("Transactions"), 60, account_tab=True, also=("billing.history_csv", "billing.close")),
    Tab("identities.index", _l("Third-party accounts"), 70),
    Tab("apikeys.index", _l("API keys"), 80),
    Tab("realname.index", _l("Real-name verification"), 45, setting="REALNAME_BACKEND"),
    Tab("mfa.index", _l("Two-factor sign-in"), 42, also=("passkeys",)),
    Tab("devices.index", _l("Devices"), 44),
    Tab("security_log.index", _l("Security log"), 46, also=("users.security_review", "users.remove_recent_ways_in")),
    # "Withdraw" money (提现), not an invitation (撤回).
    Tab("withdrawals.index", lazy_pgettext("money", "Withdraw"), 65),
]
ORG_TABS = [
    Tab("orgs.profile", _l("Organization info"), 10, also=("orgs.delete", "security_log.org_index")),
    Tab("orgs.members", _l("Members"), 20,
        also=("orgs.invite", "orgs.cancel_invitation", "orgs.change_role", "orgs.remove_member", "orgs.leave")),
    Tab("accounts.info", _l("Account info"), 30, account_tab=True, also=ACCOUNT_PAGES),
    Tab("billing.history", _l("Transactions"), 40, account_tab=True, also=("billing.history_csv", "billing.close")),
    Tab("accounts.plan", _l("Plan"), 50, account_tab=True, also=("accounts.plan_confirm", "accounts.plan_keep")),
]
ORG_PAGES = frozenset(e for tab in ORG_TABS if not tab.account_tab for e in (tab.endpoint, *tab.also))


def tabs(app) -> list[Tab]:
    """The user center's tabs the app has (core and plugins'), in order."""
    return _available(app, _core_and_plugin_tabs(app))


def _core_and_plugin_tabs(app) -> list[Tab]:
    # Plugins are registered when the app is built: their tabs are asked for once, not on every page.
    known = app.extensions.get("portal.user_center_tabs")
    if known is None:
        extra = [tab for tabs in hook(app).portal_user_center_tabs() for tab in tabs or ()]
        known = app.extensions["portal.user_center_tabs"] = CORE_TABS + extra
    return known


def _available(app, candidates) -> list[Tab]:
    shown = (t for t in candidates
             if t.endpoint in app.view_functions and (not t.setting or app.config.get(t.setting)))
    return sorted(shown, key=lambda t: t.order)


def _active(candidates: list[Tab], endpoint: str | None) -> Tab | None:
    """The tab to highlight: the page's own, else the tab it is a sub-page of (an endpoint or a
    whole blueprint in ``also``)."""
    endpoint = endpoint or ""
    blueprint = endpoint.rpartition(".")[0]
    for tab in candidates:
        if tab.endpoint == endpoint:
            return tab
    for tab in candidates:
        if endpoint in tab.also or blueprint in tab.also:
            return tab
    same_blueprint = [t for t in candidates if t.endpoint.rpartition(".")[0] == blueprint]
    return same_blueprint[0] if len(same_blueprint) == 1 else None


def is_org_page(endpoint: str | None) -> bool:
    return endpoint in ORG_PAGES


def center() -> Center:
    """The center this request's page is in, from the current account (one answer per request)."""
    from portal.accounts.navigation import navigation
    from portal.i18n import gettext as _

    app = current_app._get_current_object()
    nav = navigation()
    org = nav.org
    endpoint = request.endpoint
    if org is not None and (is_org_page(endpoint) or _is_account_page(app, endpoint)):
        extra = [t for t in tabs(app) if t.account_tab and t not in CORE_TABS]
        candidates = _available(app, ORG_TABS + extra)
        heading = _("Organization center")
    else:
        candidates = [t for t in tabs(app) if org is None or not t.account_tab]
        heading, org = _("User center"), None
    active = _active(candidates, endpoint)
    shown = [ShownTab(t.endpoint, t.label, _url(t, org), t is active) for t in candidates]
    personal = None
    if nav.org is not None and org is None:
        personal = next((c.account for c in nav.choices if c.is_personal), None)
    return Center("org" if org is not None else "user", heading, shown, org, personal)


def _is_account_page(app, endpoint: str | None) -> bool:
    candidates = [t for t in tabs(app) if t.account_tab] + [t for t in ORG_TABS if t.account_tab]
    return _active(candidates, endpoint) is not None


def _url(tab: Tab, org) -> str:
    if tab.endpoint.startswith("orgs."):
        return url_for(tab.endpoint, slug=org.slug)
    return tab.url


def init_app(app) -> None:
    app.jinja_env.globals["user_center_tabs"] = lambda: tabs(app)
    app.jinja_env.globals["console_center"] = center
