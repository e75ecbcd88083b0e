"""The kinds of security events and how the log page names them."""
from __future__ import annotations

from portal.i18n import lazy_gettext as _l

# kind -> label. Details each kind carries are noted where they are recorded.
KINDS = {
    "sign_in": _l("Signed in"),
    "sign_in_failed": _l("Failed sign-in"),
    "sign_out": _l("Signed out"),
    "session_ended": _l("Device signed out"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("Password reset"),
    "email_added": _l("Email added"),
    "email_removed": _l("Email removed"),
    "email_verified": _l("Email verified"),
    "primary_email_changed": _l("Primary email changed"),
    "phone_changed": _l("Phone changed"),
    "phone_removed": _l("Phone removed"),
    "identity_linked": _l("Third-party account linked"),
    "identity_unlinked": _l("Third-party account unlinked"),
    "mfa_enabled": _l("Two-factor sign-in turned on"),
    "mfa_disabled": _l("Two-factor sign-in turned off"),
    "mfa_reset": _l("Two-factor sign-in reset by support"),
    "recovery_codes_generated": _l("New recovery codes"),
    "recovery_code_used": _l("Recovery code used"),
    "passkey_added": _l("Passkey added"),
    "passkey_removed": _l("Passkey removed"),
    "api_key_created": _l("API key created"),
    "api_key_revoked": _l("API key revoked"),
    "realname_submitted": _l("Real-name verification submitted"),
    "realname_decided": _l("Real-name verification decided"),
    "alipay_bound": _l("Alipay account bound"),
    "alipay_unbound": _l("Alipay account unbound"),
    "withdrawal_requested": _l("Withdrawal requested"),
    "withdrawal_decided": _l("Withdrawal decided"),
    "recharge_paid": _l("Recharge paid"),
    "plan_changed": _l("Plan changed"),
    "member_added": _l("Member added"),
    "member_removed": _l("Member removed"),
    "member_role_changed": _l("Member role changed"),
    "org_settings_changed": _l("Organization settings changed"),
    "operator_action": _l("Action by support"),
}

# Who did it, when not a user.
OPERATOR = "operator"
SYSTEM = "system"
USER = "user"
# Somebody not signed in (a failed sign-in, a password reset by code).
VISITOR = "visitor"
