"""Rate limits of sign-up, sign-in and password reset (security-baseline: django-allauth's
defaults). Counted in Flask-Limiter's storage (memory, or Redis when configured), checked by hand
so a form can say what happened instead of a bare 429 page.
"""
from __future__ import annotations

from limits import parse

from portal.extensions import limiter

# name -> limit; the key is an IP address, an account or a destination, as the caller says.
LIMITS = {
    "sign_in_ip": "30/minute",
    "sign_in_failed_ip": "10/minute",
    "sign_in_failed_account": "5/5minutes",
    "sign_up_ip": "20/minute",
    "reset_password_ip": "20/minute",
    "reset_password_contact": "5/minute",
    "reset_password_confirm_ip": "20/minute",
}


def _item(name: str):
    return parse(LIMITS[name])


def allowed(name: str, key: str) -> bool:
    """True while ``key`` has attempts left under limit ``name`` (nothing is counted)."""
    return limiter.limiter.test(_item(name), "portal", name, key)


def hit(name: str, key: str) -> bool:
    """Count one attempt; False when it is over the limit."""
    return limiter.limiter.hit(_item(name), "portal", name, key)


def clear(name: str, key: str) -> None:
    limiter.limiter.clear(_item(name), "portal", name, key)
