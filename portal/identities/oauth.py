"""The core's half of every provider's OAuth dance: which providers an app has, the authlib client
of each, and ``state`` + PKCE.

``state`` is the core's, not authlib's (whose session entries live an hour, unbounded in number):
random (authlib's 30 characters, ~178 bits), kept in the signed session with the provider, the
purpose, the user it was made for and where to land afterwards, single use, 10 minutes of life and at most 10 pending per
session (security-baseline, "OAuth client state").
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import current_app, session

from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import PluginError, hook
from portal.security import allow_form_target
from portal.urls import public_url

STATE_LIFETIME_SECONDS = 600
MAX_PENDING_STATES = 10
SESSION_KEY = "identities.states"
HTTP_TIMEOUT_SECONDS = 10

SIGN_IN = "sign-in"
LINK = "link"
# Signing in again with a provider already linked: the step-up of users with no password or contact.
REAUTHENTICATE = "reauthenticate"


class StateError(Exception):
    """The callback's ``state`` is missing, unknown, used, expired or made for something else."""


class ConsentDenied(Exception):
    """The person said no on the provider's consent page."""


@dataclass(frozen=True)
class Callback:
    provider: OAuthProvider
    purpose: str
    user_id: int | None
    identity: ProviderIdentity
    # A local path (checked when it was stored) to land on after signing in, or None.
    next_path: str | None = None


def providers(app=None) -> dict[str, OAuthProvider]:
    """The app's enabled providers by name, in the order plugins returned them."""
    return _registry(app or current_app)[0]


def provider_or_none(name: str) -> OAuthProvider | None:
    return providers().get(name)


def linked_providers(user_id: int) -> list[OAuthProvider]:
    """The enabled providers the user has linked an account of."""
    from portal.identities.services import identities_of

    linked = identities_of(user_id)
    return [provider for name, provider in providers().items() if name in linked]


def _registry(app):
    registry = app.extensions.get("portal.identities")
    if registry is None:
        found: dict[str, OAuthProvider] = {}
        for returned in hook(app).portal_oauth_providers():
            for provider in returned or ():
                if not provider.name or provider.name in found:
                    raise PluginError(f"OAuth provider name {provider.name!r} is empty or taken twice: "
                                      "disable one of the plugins offering it (PLUGINS_DISABLED)")
                found[provider.name] = provider
        oauth = OAuth(app)
        for provider in found.values():
            settings = provider.authlib_settings(provider.settings(app))
            settings["client_kwargs"].setdefault("default_timeout", HTTP_TIMEOUT_SECONDS)
            oauth.register(provider.name, **settings)
            allow_form_target(app, settings["authorize_url"])
        registry = app.extensions["portal.identities"] = (found, oauth)
    return registry


def _client(provider: OAuthProvider):
    return _registry(current_app)[1].create_client(provider.name)


def _redirect_uri(provider: OAuthProvider) -> str:
    # From PUBLIC_URL: a forged Host would otherwise send the provider's code to the forger.
    return public_url("identities.callback", provider=provider.name)


def _pending_states() -> dict:
    now = time.time()
    pending = session.get(SESSION_KEY) or {}
    return {state: entry for state, entry in pending.items() if entry.get("expires", 0) > now}


def authorization_url(provider: OAuthProvider, purpose: str, user_id: int | None = None,
                      next_path: str | None = None) -> str:
    """Where to send the browser to start signing in or linking with ``provider``; ``next_path``
    (a local path, checked by the caller) comes back with the callback."""
    created = _client(provider).create_authorization_url(_redirect_uri(provider))
    pending = _pending_states()
    pending[created["state"]] = {
        "provider": provider.name,
        "purpose": purpose,
        "user_id": user_id,
        "verifier": created.get("code_verifier"),
        "next": next_path,
        "expires": time.time() + STATE_LIFETIME_SECONDS,
    }
    newest = sorted(pending.items(), key=lambda item: item[1]["expires"])[-MAX_PENDING_STATES:]
    session[SESSION_KEY] = dict(newest)
    return provider.authorization_url(created["url"])


def _take_state(provider: OAuthProvider, state: str | None) -> dict:
    pending = _pending_states()
    entry = pending.pop(state, None) if state else None
    session[SESSION_KEY] = pending
    if entry is None or entry["provider"] != provider.name:
        raise StateError(_("This sign-in attempt has expired or was already used. Please start again."))
    return entry


def complete(provider: OAuthProvider, args) -> Callback:
    """Check the callback's ``state``, trade the code for a token and ask who signed in."""
    entry = _take_state(provider, args.get("state"))
    if args.get("error") == "access_denied" or (not args.get("error") and not args.get("code")):
        # WeChat reports a refusal by leaving out the code, without an error.
        raise ConsentDenied(_("You declined on the provider's page; nothing was changed."))
    if args.get("error"):
        raise ProviderError(_("The provider refused: %(error)s", error=args.get("error")[:100]))
    client = _client(provider)
    try:
        token = client.fetch_access_token(
            redirect_uri=_redirect_uri(provider),
            code=args["code"],
            **({"code_verifier": entry["verifier"]} if entry.get("verifier") else {}),
        )
        client.token = token
        found = provider.fetch_identity(client, token)
    except ProviderError:
        raise
    except OAuthError as exc:
        raise ProviderError(_("The provider refused: %(error)s", error=str(exc.error)[:100])) from exc
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise ProviderError(_("The provider refused the request (HTTP %(status)s).", status=status)) from exc
    except requests.RequestException as exc:
        raise ProviderError(_("The provider could not be reached. Please try again later.")) from exc
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ProviderError(_("The provider sent an answer Portal does not understand.")) from exc
    return Callback(provider, entry["purpose"], entry.get("user_id"), found, entry.get("next"))
