"""The provider contract: what a sign-in/link provider plugin describes, and what it hands back.

A provider plugin returns ``OAuthProvider`` instances from ``portal_oauth_providers``. The
description says where the provider lives (endpoint URLs built from base-URL settings), how authlib
must talk to it, and how to turn its user info into a ``ProviderIdentity``. The core does the rest:
routes, ``state``, PKCE, the link table and every linking rule (portal.identities.services).

Example (a complete plugin module)::

    from portal.identities.providers import OAuthProvider, ProviderIdentity
    from portal.plugins import hookimpl

    class GitHub(OAuthProvider):
        name = "github"
        label = "GitHub"
        icon = "github"
        defaults = {"web_url": "https://github.com", "api_url": "https://api.github.com"}
        authorize_url = "{web_url}/login/oauth/authorize"
        access_token_url = "{web_url}/login/oauth/access_token"
        api_base_url = "{api_url}/"
        client_kwargs = {"scope": "read:user user:email",
                         "token_endpoint_auth_method": "client_secret_post"}
        pkce = True

        def fetch_identity(self, client, token):
            user = client.get("user").json()
            return ProviderIdentity(subject=str(user["id"]), name=user.get("name") or user["login"])

    @hookimpl
    def portal_oauth_providers():
        return [GitHub()]

    @hookimpl
    def portal_settings():
        return GitHub.declared_settings()
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from portal.plugins import Setting, plugin_config


class ProviderError(Exception):
    """The provider refused, failed, or answered with something unusable.

    Raise it from ``fetch_identity`` with a short reason (shown to the user, never a secret)."""


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the person is at the provider, normalized.

    ``subject`` is the provider's stable, never-reused id for the account (GitHub's numeric id, not
    the renamable login; WeChat's unionid where there is one). The rest is for display and may be
    None; the core bounds their length."""

    subject: str
    name: str | None = None
    avatar_url: str | None = None
    email: str | None = None


class OAuthProvider:
    """Describes one OAuth 2 provider. Subclass it and set the class attributes.

    Endpoint URLs may contain ``{setting}`` placeholders, filled from ``defaults`` overridden by the
    operator's ``PLUGINS[<name>]`` settings (``client_id``, ``client_secret`` - usually
    ``{"$env": "NAME"}`` - and base URLs such as ``web_url``). ``PLUGINS[<name>]["allow_sign_up"]``
    (default True) lets an unknown provider account create a new portal account when it signs in.
    """

    # Short, stable, URL-safe id: /identities/<name>/... and the ``provider`` column.
    name: ClassVar[str] = ""
    # A string or a mapping of locale -> string ({"zh_CN": "微信", "en": "WeChat"}).
    label: ClassVar[Any] = ""
    # A Bootstrap Icons name (https://icons.getbootstrap.com/), e.g. "github", "wechat".
    icon: ClassVar[str] = "box-arrow-in-right"
    # Settings and their defaults (the real provider's hosts).
    defaults: ClassVar[dict] = {}
    required_settings: ClassVar[tuple] = ("client_id", "client_secret")

    authorize_url: ClassVar[str] = ""
    access_token_url: ClassVar[str] = ""
    api_base_url: ClassVar[str] = ""
    # Passed to authlib's OAuth2Session: scope, token_endpoint_auth_method, token_placement, ...
    client_kwargs: ClassVar[dict] = {}
    # Extra query parameters of the authorize redirect, and of the token request (``method``...).
    authorize_params: ClassVar[dict] = {}
    access_token_params: ClassVar[dict] = {}
    # True when the provider supports PKCE; the core then always uses S256.
    pkce: ClassVar[bool] = False

    def settings(self, app=None) -> dict:
        """``defaults`` overridden by the operator's settings, secrets resolved, values typed."""
        return {**self.defaults, **plugin_config(self.name, app)}

    def allows_sign_up(self, app=None) -> bool:
        return self.settings(app).get("allow_sign_up", True) is True

    @classmethod
    def declared_settings(cls) -> dict:
        """What ``portal_settings`` returns for this provider: the client id and secret, sign-up,
        and one setting per entry of ``defaults`` (URLs, flags)."""
        declared = {
            "client_id": Setting("str"),
            "client_secret": Setting("secret"),
            "allow_sign_up": Setting("bool", default=True),
        }
        for key, default in cls.defaults.items():
            if isinstance(default, bool):
                declared[key] = Setting("bool", default=default)
            elif isinstance(default, str) and default.startswith(("http://", "https://")):
                declared[key] = Setting("url", default=default)
            else:
                declared[key] = Setting("str", default=default)
        for key in cls.required_settings:
            declared[key] = replace(declared.get(key) or Setting(), required=True)
        return declared

    def authlib_settings(self, settings: dict) -> dict:
        """Keyword arguments for authlib's ``OAuth.register``, endpoints filled in from ``settings``."""
        client_kwargs = dict(self.client_kwargs)
        if self.pkce:
            client_kwargs["code_challenge_method"] = "S256"
        return {
            "client_id": settings.get("client_id"),
            "client_secret": settings.get("client_secret"),
            "authorize_url": self.authorize_url.format_map(settings),
            "access_token_url": self.access_token_url.format_map(settings),
            "api_base_url": self.api_base_url.format_map(settings),
            "client_kwargs": client_kwargs,
            "authorize_params": self.authorize_params_for(settings) or None,
            "access_token_params": dict(self.access_token_params) or None,
            "compliance_fix": self.compliance_fix,
        }

    def authorize_params_for(self, settings: dict) -> dict:
        """The authorize redirect's extra parameters; override when they depend on settings
        (WeChat wants ``appid`` = the client id)."""
        return dict(self.authorize_params)

    def compliance_fix(self, session) -> None:
        """Adapt authlib's session to a non-standard provider: ``session.register_compliance_hook(
        "access_token_response", fn)`` to parse an odd token response, map error codes, and so on."""

    def authorization_url(self, url: str) -> str:
        """The URL the browser is sent to; override to decorate it (WeChat's ``#wechat_redirect``)."""
        return url

    def fetch_identity(self, client, token: dict) -> ProviderIdentity:
        """Ask the provider who signed in. ``client`` is the authlib client holding ``token``
        (``client.get("user")`` is relative to ``api_base_url``). Raise ``ProviderError`` when the
        answer is an error or has no stable id."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<OAuthProvider {self.name}>"
