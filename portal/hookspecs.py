"""Portal's hook specifications: what a plugin can add. Nothing but specs lives here.

Every hook is documented in docs/plugins.md, with its signature, arguments, return and an example.
"""
import pluggy

hookspec = pluggy.HookspecMarker("portal")


@hookspec
def portal_required_config():
    """Return the names of the settings this plugin cannot run without (a list of strings); the
    untyped short form of ``portal_settings``."""


@hookspec
def portal_settings():
    """Return this plugin's settings: a dict of name -> ``portal.plugins.Setting`` (type "str",
    "bool", "int", "float", "secret" or "url"; required or not; default). ``plugin_config`` then reads the
    operator's values as these types, and a wrong type or an unknown key stops startup."""


@hookspec
def portal_message_channels():
    """Return the channels ("email", "sms") over which this plugin delivers verification codes; two
    plugins naming the same channel stop startup."""


@hookspec
def portal_init_app(app):
    """Finish setting the plugin up for ``app`` once every plugin is loaded (register CLI commands,
    template filters, read and check its settings)."""


@hookspec
def portal_blueprints():
    """Return a list of Flask blueprints to register: the plugin's pages, callbacks and templates."""


@hookspec
def portal_user_center_tabs():
    """Return a list of ``portal.user_center.Tab`` to add to the user center's tab bar."""


@hookspec(firstresult=True)
def portal_send_verification_code(channel, destination, code, purpose, locale, subject, body, purpose_label,
                                  minutes):
    """Deliver a one-time ``code`` to ``destination`` over ``channel`` ("email" or "sms").

    ``subject`` and ``body`` are the message the core composed in ``locale``, naming what the code is
    for and how long it is valid; a provider that sends templates (SMS) fills them with ``code``,
    ``purpose_label`` (what the code is for, in ``locale``) and ``minutes`` instead.

    Return a truthy delivery id when this plugin delivered it, ``None`` when it does not serve the
    channel; raise ``portal.plugins.DeliveryError`` when delivery failed."""


@hookspec(firstresult=True)
def portal_send_notice(channel, destination, subject, body, summary, locale):
    """Deliver a security notice (``portal.notices``) to ``destination`` over ``channel`` ("email" or
    "sms"): ``subject`` and ``body`` composed in ``locale``, ``summary`` the one-sentence change (for
    SMS templates). Return a truthy delivery id, ``None`` when this plugin does not serve the channel;
    raise ``portal.plugins.DeliveryError`` when delivery failed."""


@hookspec
def portal_quota_resources():
    """Return a list of ``portal.accounts.quotas.Resource`` that plans can set a quota for."""


@hookspec
def portal_oauth_providers():
    """Return a list of ``portal.identities.providers.OAuthProvider``: the sign-in/link providers
    this plugin adds."""


@hookspec
def portal_identity_linked(user, identity, first_link):
    """Called after ``identity`` (a ``portal.identities.models.Identity``) was linked to ``user``,
    inside the same transaction; ``first_link`` is True when this provider account was never linked
    to anyone before."""


@hookspec
def portal_identity_perks(user, provider):
    """Return a list of ``portal.identities.perks.Perk``: what linking ``provider`` (a provider name)
    gives ``user``, and whether ``user`` already has it (shown on 第三方账户)."""


@hookspec
def portal_realname_backends():
    """Return a list of ``portal.realname.backends.RealnameBackend``: the ways to verify a real name
    this plugin adds (the operator picks one with ``REALNAME_BACKEND``)."""


@hookspec
def portal_payment_channels():
    """Return a list of ``portal.billing.channels.PaymentChannel``: the ways to pay this plugin adds."""


@hookspec
def portal_payout_channels():
    """Return a list of ``portal.withdrawals.channels.PayoutChannel``: the accounts users can bind and
    withdraw to (绑定支付宝, 提现) that this plugin adds."""
