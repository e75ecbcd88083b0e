"""Rate limits of sign-up, sign-in and password reset (security-baseline: django-allauth's
defaults), counted by portal.ratelimits so a form can say what happened.
"""
from __future__ import annotations

from portal import ratelimits

# name -> limit; the key is an IP address, an account or a destination, as the caller says.
LIMITS = {
    "sign_in_ip": "30/minute",
    "sign_in_failed_ip": "10/minute",
    # Wrong passwords for one account from one source: past it that source waits (flat refusal).
    "sign_in_failed_account_source": "5/5minutes",
    # Wrong passwords for one account from anywhere: past it the right password alone is not enough,
    # a code sent to the primary contact must come with it - but the owner is never locked out.
    "sign_in_failed_account": "20/hour",
    "sign_in_unlock_ip": "20/minute",
    # 验证码登录: asking for codes (beside the verification codes' own limits per phone and client),
    # and wrong codes for one phone from anywhere (each code also dies after 5 wrong guesses).
    "sign_in_code_send_ip": "10/minute",
    "sign_in_code_send_phone": "5/minute",
    "sign_in_code_failed_phone": "10/hour",
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
