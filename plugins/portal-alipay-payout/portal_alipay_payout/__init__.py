"""绑定支付宝 and 提现 through Alipay: a Portal payout channel (see README.md for the settings)."""
from portal.plugins import PluginError, hookimpl, plugin_config

from .channel import REQUIRED_SETTINGS, AlipayPayout

__all__ = ["AlipayPayout"]


@hookimpl
def portal_required_config():
    return list(REQUIRED_SETTINGS)


@hookimpl
def portal_init_app(app):
    from portal_alipay.client import is_certificate_mode, key_problem

    settings = plugin_config("alipay_payout", app)
    # Alipay refuses fund transfers from an app in public-key mode (isv.missing-app-cert-sn).
    if not is_certificate_mode(settings):
        raise PluginError("plugin 'alipay_payout': Alipay transfers need certificate mode: set app_cert, "
                          "alipay_cert and alipay_root_cert")
    problem = key_problem(settings)
    if problem:
        raise PluginError(f"plugin 'alipay_payout': {problem}")


@hookimpl
def portal_payout_channels():
    return [AlipayPayout(plugin_config("alipay_payout"))]
