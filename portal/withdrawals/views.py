"""提现 and 绑定支付宝 in the user center: the rules, the bound account, the request form and the
history; binding through the channel's authorization (state single use, bound to the session, 10
minutes) and unbinding. Requesting a withdrawal and unbinding move money out or remove where it
goes, so both need a fresh step-up."""
from __future__ import annotations

import secrets
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from portal.accounts.access import personal_account
from portal.auth import stepup
from portal.billing.amounts import AmountError, format_yuan, parse_yuan
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized
from portal.urls import public_url
from portal.withdrawals import binding, services
from portal.withdrawals.channels import payout_channels

bp = Blueprint("withdrawals", __name__, url_prefix="/user/withdraw")

STATE_KEY = "payout_bind"
STATE_SECONDS = 10 * 60
STATE_LABELS = {
    "pending": _l("Awaiting review"),
    "sending": _l("Being paid"),
    "succeeded": _l("Paid"),
    "failed": _l("Payout failed"),
    "rejected": _l("Rejected"),
}


@bp.before_request
def require_sign_in():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return None


def _me():
    return current_user._get_current_object()


def _render(error: str | None = None, status: int = 200, amount: str = ""):
    from portal.realname import services as realname

    user = _me()
    account = personal_account(user)
    rules = services.limits()
    channels = payout_channels()
    page = render_template(
        "withdrawals/index.html", account=account, rules=rules, error=error, amount=amount,
        verified=realname.is_verified(user.id), bound=services.bound_accounts(user.id),
        channels={name: localized(c.label) for name, c in channels.items()},
        withdrawals=services.of_account(account.id), state_labels=STATE_LABELS, yuan=format_yuan,
    )
    return page, status


@bp.get("/")
def index():
    return _render()


@bp.post("/")
@stepup.step_up_required
def withdraw():
    rules = services.limits()
    text = request.form.get("amount", "")
    try:
        fen = parse_yuan(text, max_fen=rules.max_fen, min_fen=rules.min_fen)
    except AmountError as exc:
        return _render(str(exc), 400, text)
    user = _me()
    try:
        withdrawal = services.request_withdrawal(user, personal_account(user), fen)
    except services.WithdrawalError as exc:
        return _render(exc.message, 400, text)
    flash(_("Withdrawal of %(amount)s yuan requested: %(state)s.", amount=format_yuan(fen),
            state=STATE_LABELS[withdrawal.state]), "success")
    return redirect(url_for("withdrawals.index"))


@bp.post("/bind/<channel>")
def bind_start(channel):
    found = payout_channels().get(channel)
    if found is None:
        return _render(_("This payout channel is not available."), 404)
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = {"state": state, "channel": channel, "at": time.time(), "user": current_user.id}
    return redirect(found.authorize_url(state, public_url("withdrawals.bind_callback", channel=channel)))


@bp.get("/bind/<channel>/callback")
def bind_callback(channel):
    issued = session.pop(STATE_KEY, None)  # single use, whatever happens next
    given = request.args.get("state", "")
    if (not isinstance(issued, dict) or not given or not secrets.compare_digest(str(issued.get("state")), given)
            or issued.get("channel") != channel or issued.get("user") != current_user.id
            or not 0 <= time.time() - float(issued.get("at", 0)) < STATE_SECONDS):
        return _render(_("This authorization was not started here, was already used or has expired: "
                         "please start again."), 400)
    if not request.args.get("auth_code"):
        return _render(_("The authorization was refused at Alipay; nothing was bound."), 400)
    try:
        binding.bind(_me(), channel, request.args.to_dict())
    except binding.BindRefused as exc:
        return _render(exc.message, 400)
    flash(_("The Alipay account is bound: withdrawals are paid to it."), "success")
    return redirect(url_for("withdrawals.index"))


@bp.post("/unbind/<channel>")
@stepup.step_up_required
def unbind(channel):
    try:
        binding.unbind(_me(), channel)
    except binding.BindRefused as exc:
        return _render(exc.message, 400)
    flash(_("The Alipay account was unbound."), "success")
    return redirect(url_for("withdrawals.index"))
