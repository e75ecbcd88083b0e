"""Alipay identity verification as a Portal real-name backend.

Settings (``PLUGINS["alipay_certify"]``): ``app_id``, ``app_private_key`` and either
``alipay_public_key`` or the certificate-mode trio ``app_cert``, ``alipay_cert``, ``alipay_root_cert``;
optionally ``biz_code`` (default FACE) and ``gateway``."""
from portal.plugins import PluginError, hookimpl, plugin_config

from .backend import BIZ_CODES, REQUIRED_SETTINGS, AlipayCertify

__all__ = ["AlipayCertify"]


@hookimpl
def portal_required_config():
    return list(REQUIRED_SETTINGS)


@hookimpl
def portal_init_app(app):
    from portal_alipay.client import key_problem

    settings = plugin_config("alipay_certify", app)
    problem = key_problem(settings)
    if problem:
        raise PluginError(f"plugin 'alipay_certify': {problem}")
    if settings.get("biz_code") not in (None, "", *BIZ_CODES):
        raise PluginError(f"plugin 'alipay_certify': biz_code must be one of {', '.join(BIZ_CODES)}")


@hookimpl
def portal_realname_backends():
    return [AlipayCertify(plugin_config("alipay_certify"))]
