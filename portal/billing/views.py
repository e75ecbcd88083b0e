"""Recharge (充值), the order's QR page and its status, transaction history (交易记录), and the
channels' notification endpoint."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import timeutil
from portal.accounts.access import account_or_404, can_manage, current_account
from portal.billing import notifications, orders, reconcile
from portal.billing.amounts import format_yuan
from portal.billing.channels import ChannelError, payment_channels
from portal.billing.forms import RechargeForm, recharge_max_fen
from portal.billing.models import PENDING
from portal.billing.qr import qr_svg
from portal.extensions import csrf
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized
from portal.net import client_ip

log = logging.getLogger(__name__)

bp = Blueprint("billing", __name__, url_prefix="/billing")

STATE_LABELS = {
    "pending": _l("Awaiting payment"),
    "paid": _l("Paid"),
    "expired": _l("Expired"),
    "closed": _l("Closed"),
}
HISTORY_PAGE_SIZE = 20


@bp.app_context_processor
def billing_helpers():
    return {"order_state_label": lambda state: STATE_LABELS.get(state, state), "account_name": account_name}


def account_name(account) -> str:
    return account.user.username if account.is_personal else account.org.name


def _notify_url(channel_name: str) -> str:
    # BILLING_NOTIFY_BASE_URL: where the channels reach this portal when that is not the host the
    # user's browser used (an internal hostname, a tunnel); default: the request's own host.
    base = current_app.config.get("BILLING_NOTIFY_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("billing.notify", channel_name=channel_name)
    return url_for("billing.notify", channel_name=channel_name, _external=True)


def _description(account) -> str:
    # WeChat Pay accepts at most 127 characters.
    return _("%(site)s balance recharge: %(account)s", site=current_app.config["SITE_NAME"],
             account=account_name(account))[:127]


@bp.route("/recharge", methods=["GET", "POST"])
@login_required
def recharge():
    account = current_account()
    if not can_manage(account, current_user):
        return render_template("billing/recharge.html", account=account, form=None), 403
    channels = payment_channels()
    form = RechargeForm()
    form.channel.choices = [(name, localized(channel.label)) for name, channel in channels.items()]
    if len(channels) == 1 and not form.channel.data:
        form.channel.data = next(iter(channels))
    status = 200
    if form.validate_on_submit():
        channel = channels[form.channel.data]
        try:
            order = orders.start_recharge(
                account.id, channel, form.amount_fen, _description(account), _notify_url(channel.name),
                created_by_id=current_user.id,
            )
        except ChannelError as exc:
            log.warning("%s refused a charge: %s (%s)", channel.name, exc, exc.code)
            flash(_("%(channel)s could not create the payment right now; please try again.",
                    channel=localized(channel.label)), "error")
            status = 502
        else:
            return redirect(url_for("billing.order", order_id=order.id))
    elif form.is_submitted():
        status = 400
    return render_template(
        "billing/recharge.html", account=account, form=form, channels=channels,
        max_yuan=format_yuan(recharge_max_fen()),
    ), status


def _managed_order(order_id: int):
    order = orders.get_order(order_id)
    if order is None:
        abort(404)
    account = account_or_404(order.account_id, manage=True)
    return order, account


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    order, account = _managed_order(order_id)
    now = timeutil.utcnow()
    attempt = order.current_attempt
    payable = order.state == PENDING and order.expires_at > now
    qr = None
    if payable and attempt.qr_payload and attempt.closed_at is None and attempt.channel_expires_at > now:
        label = _("QR code to pay %(amount)s yuan", amount=format_yuan(order.amount_fen))
        qr = qr_svg(attempt.qr_payload, label)
    channel = payment_channels().get(order.channel)
    return render_template(
        "billing/order.html", order=order, account=account, attempt=attempt, qr=qr, payable=payable,
        channel_label=localized(channel.label) if channel else order.channel,
        seconds_left=max(0, int((attempt.channel_expires_at - now).total_seconds())) if qr else 0,
    )


@bp.post("/orders/<int:order_id>/pay")
@login_required
def pay(order_id: int):
    """Pay a pending order again (from history, or when its QR code expired)."""
    order, account = _managed_order(order_id)
    channel = payment_channels().get(order.channel)
    if channel is None:
        flash(_("This payment method is no longer available; start a new recharge."), "error")
        return redirect(url_for("billing.history"))
    try:
        orders.charge(order, channel, _description(account), _notify_url(channel.name))
    except orders.OrderNotPayable:
        if order.state == "paid":
            flash(_("This order is already paid."), "success")
        else:
            flash(_("This order can no longer be paid; start a new recharge."), "error")
    except ChannelError as exc:
        log.warning("%s refused a charge: %s (%s)", channel.name, exc, exc.code)
        flash(_("%(channel)s could not create the payment right now; please try again.",
                channel=localized(channel.label)), "error")
    return redirect(url_for("billing.order", order_id=order.id))


@bp.post("/orders/<int:order_id>/close")
@login_required
def close(order_id: int):
    """Give up on a pending order (it is closed at the channel first, so it cannot be paid later)."""
    order, account = _managed_order(order_id)
    channel = payment_channels().get(order.channel)
    if order.state != PENDING or channel is None:
        flash(_("Only orders awaiting payment can be closed."), "error")
        return redirect(url_for("billing.history"))
    try:
        state = reconcile.cancel(order, channel)
    except ChannelError as exc:
        log.warning("%s could not close order %s: %s", channel.name, order.id, exc)
        flash(_("%(channel)s could not close the order right now; please try again.",
                channel=localized(channel.label)), "error")
    else:
        if state == "paid":
            flash(_("This order is already paid."), "success")
        else:
            flash(_("The order was closed."), "success")
    return redirect(url_for("billing.history"))


@bp.get("/orders/<int:order_id>/status")
@login_required
def order_status(order_id: int):
    order, account = _managed_order(order_id)
    return jsonify(
        state=order.state,
        label=str(STATE_LABELS[order.state]),
        amount=format_yuan(order.amount_fen),
        balance=format_yuan(account.balance_fen) if order.state == "paid" else None,
    )


@bp.get("/history")
@login_required
def history():
    account = current_account()
    before = request.args.get("before", "")
    before_id = int(before) if before.isascii() and before.isdigit() and len(before) < 19 else None
    if before and before_id is None:
        abort(400)
    page = orders.history(account.id, before_id, HISTORY_PAGE_SIZE + 1)
    channels = payment_channels()
    return render_template(
        "billing/history.html", account=account, orders=page[:HISTORY_PAGE_SIZE],
        next_before=page[HISTORY_PAGE_SIZE - 1].id if len(page) > HISTORY_PAGE_SIZE else None,
        can_manage=can_manage(account, current_user), now=timeutil.utcnow(),
        channel_labels={name: localized(c.label) for name, c in channels.items()},
    )


@bp.post("/notify/<channel_name>")
@csrf.exempt
def notify(channel_name: str):
    channel = payment_channels().get(channel_name)
    if channel is None:
        abort(404)
    body = request.get_data()  # cached first: the raw bytes are what the signature covers
    outcome, ack = notifications.handle(channel, dict(request.headers), body, request.form.to_dict(),
                                        sender=client_ip())
    return ack.body, ack.status, {"Content-Type": ack.content_type}
