"""Rate limits of sign-up, sign-in and password reset (security-baseline: django-allauth's
defaults), counted by portal.ratelimits so a form can say what happened.
"""
from __future__ import annotations

from portal import ratelimits

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


def allowed(name: str, key: str) -> bool:
    """True while ``key`` has attempts left under limit ``name`` (nothing is counted)."""
    return ratelimits.allowed(LIMITS[name], "portal", name, key)


def hit(name: str, key: str) -> bool:
    """Count one attempt; False when it is over the limit."""
    return ratelimits.hit(LIMITS[name], "portal", name, key)


def clear(name: str, key: str) -> None:
    ratelimits.clear(LIMITS[name], "portal", name, key)
