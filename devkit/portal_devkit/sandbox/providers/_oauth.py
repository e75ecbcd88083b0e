"""Shared parts of the sandbox's OAuth 2 providers (GitHub, Bitbucket, CODING): test personas, the
consent page, and single-use authorization codes with their real lifetimes.

Each provider module keeps its store in ``sandbox.state[<name>]`` (``new_store``) and answers in its
own formats; only the bookkeeping is shared here.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import current_app, render_template

# Real providers fall back to the callback URL registered with the app; the sandbox has none.
NO_REGISTERED_CALLBACK = "redirect_uri is required: this sandbox app has no registered callback URL."
# A name of this size (5 MB) is what a hostile or broken provider may send.
HUGE_NAME_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Persona:
    """A fake person with an account at every OAuth provider of the sandbox."""

    key: str
    number: int
    login: str
    name: str | None
    email: str | None
    # Fault personas: a user object without an id, or with a 5 MB name.
    without_id: bool = False
    huge_name: bool = False

    def display_name(self) -> str | None:
        return "名" * (HUGE_NAME_BYTES // 3) if self.huge_name else self.name

    def avatar(self, base: str) -> str:
        return f"{base}/avatars/{self.login}.svg"


PERSONAS = (
    Persona("alice", 1, "alice-dev", "Alice Wang", "alice@example.com"),
    Persona("bob", 2, "bob42", "鲍勃 Bob", "bob@example.com"),
    # Shares Alice's email: signing in must never attach this account to Alice's portal account.
    Persona("mallory", 3, "mallory", None, "alice@example.com"),
    Persona("ghost", 4, "ghost", "No ID", None, without_id=True),
    Persona("huge", 5, "huge-name", None, None, huge_name=True),
)


def persona(key: str | None) -> Persona | None:
    return next((p for p in PERSONAS if p.key == key), None)


def sandbox():
    return current_app.extensions["sandbox"]


def new_store() -> dict:
    return {
        "client_id": "sbx-" + secrets.token_hex(8),
        "client_secret": secrets.token_urlsafe(24),
        "codes": {},
        "tokens": {},
        "refresh_tokens": {},
    }


def client_settings(shell, name: str, **urls: str) -> dict:
    """``plugin_settings`` of the provider ``name``: the sandbox app's credentials (from its
    ``new_store``) and where the provider's endpoints live."""
    store = shell.state[name]
    return {name: {"client_id": store["client_id"], "client_secret": store["client_secret"], **urls}}


def with_query(url: str, **params) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    return urlunsplit((scheme, netloc, path, f"{query}&{extra}" if query else extra, fragment))


def consent_page(provider_label: str, store: dict, args, action: str, error: str | None = None):
    """The provider's "authorize this app" page: one button per persona, and Deny."""
    status = 400 if error else 200
    return render_template(
        "sandbox/oauth_consent.html",
        provider=provider_label,
        client_known=args.get("client_id") == store["client_id"],
        params={k: v for k, v in args.items() if k not in ("persona", "decision")},
        personas=PERSONAS,
        action=action,
        error=error,
    ), status


def issue_code(store: dict, args, persona_key: str, lifetime: timedelta) -> str:
    code = secrets.token_hex(10)
    store["codes"][code] = {
        "persona": persona_key,
        "client_id": args.get("client_id"),
        "redirect_uri": args.get("redirect_uri"),
        "code_challenge": args.get("code_challenge"),
        "code_challenge_method": args.get("code_challenge_method"),
        "expires": sandbox().now() + lifetime,
        "used": False,
    }
    return code


def redeem_code(store: dict, code: str | None, redirect_uri: str | None = None,
                verifier: str | None = None, check_pkce: bool = True) -> tuple[dict | None, str | None]:
    """The grant behind ``code`` (used up), or an error word: "bad_code", "redirect", "pkce"."""
    with sandbox().lock:
        grant = store["codes"].get(code or "")
        if grant is None or grant["used"] or grant["expires"] < sandbox().now():
            return None, "bad_code"
        grant["used"] = True
    if redirect_uri is not None and grant["redirect_uri"] and redirect_uri != grant["redirect_uri"]:
        return None, "redirect"
    if check_pkce and grant["code_challenge"]:
        digest = hashlib.sha256((verifier or "").encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        matches = secrets.compare_digest(expected, grant["code_challenge"])
        if grant["code_challenge_method"] != "S256" or not matches:
            return None, "pkce"
    return grant, None


def issue_token(store: dict, grant: dict, prefix: str, refresh: bool = False) -> tuple[str, str | None]:
    token = prefix + secrets.token_urlsafe(27)
    store["tokens"][token] = {"persona": grant["persona"], "client_id": grant["client_id"]}
    refresh_token = None
    if refresh:
        refresh_token = secrets.token_urlsafe(27)
        store["refresh_tokens"][refresh_token] = {"persona": grant["persona"], "access_token": token,
                                                  "client_id": grant["client_id"]}
    return token, refresh_token


def bearer_persona(store: dict, authorization: str | None, schemes=("bearer",)) -> Persona | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() not in schemes:
        return None
    grant = store["tokens"].get(token.strip())
    return persona(grant["persona"]) if grant else None


def avatar_svg(login: str) -> str:
    """A tiny generated avatar, so pages show an image without reaching the internet."""
    hue = int(hashlib.sha256(login.encode()).hexdigest()[:2], 16) * 360 // 256
    letter = (login[:1] or "?").upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<rect width="96" height="96" fill="hsl({hue},60%,55%)"/>'
        '<text x="48" y="62" font-size="44" text-anchor="middle" fill="#fff" font-family="sans-serif">'
        f"{letter}</text>"
        "</svg>"
    )
