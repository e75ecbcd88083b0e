"""Recharge (充值), the order's QR page and its status, transaction history (交易记录), and the
channels' notification endpoint."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import database, logs, timeutil
from portal.accounts.access import account_or_404, can_manage, current_account
from portal.billing import notifications, orders, reconcile
from portal.billing.amounts import format_yuan
from portal.billing.channels import ChannelError, payment_channels
from portal.billing.forms import RechargeForm, recharge_max_fen
from portal.billing.models import PENDING
from portal.billing.qr import qr_svg
from portal.extensions import csrf, db
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
    "held": _l("Held for support"),
}


@bp.app_context_processor
def billing_helpers():
    return {"order_state_label": lambda state: STATE_LABELS.get(state, state), "account_name": account_name}


def account_name(account) -> str:
    return account.user.username if account.is_personal else account.org.name


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
                account.id, channel, form.amount_fen, created_by_id=current_user.id,
            )
        except ChannelError as exc:
            log.warning("%s refused a charge: %s (%s)", channel.name, exc, exc.code)
            flash(_("%(channel)s could not create the payment right now; please try again.",
                    channel=localized(channel.label)), "error")
            status = 502
        except orders.TooManyPendingOrders as exc:
            flash(_("This account already has %(count)d unpaid orders. Pay or close one of them in the "
                    "transaction history before starting another recharge.", count=exc.limit), "error")
            status = 409
        except orders.RechargesRateLimited as exc:
            flash(_("Too many recharges were started just now. Please try again in %(minutes)d minute(s).",
                    minutes=max(1, -(-exc.retry_after // 60))), "error")
            status = 429
        except orders.AccountClosed:
            abort(404)
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


@bp.get("/orders/<id:order_id>")
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
        pay_link=_pay_link(channel, attempt.qr_payload) if qr else None,
        channel_label=localized(channel.label) if channel else order.channel,
        seconds_left=max(0, int((attempt.channel_expires_at - now).total_seconds())) if qr else 0,
    )


def _pay_link(channel, qr_payload: str) -> str | None:
    """A page to pay on without scanning: the payload itself when it is a web page, else the
    channel's ``payer_url`` (optional) for it."""
    if qr_payload.startswith(("https://", "http://")):
        return qr_payload
    payer_url = getattr(channel, "payer_url", None)
    return payer_url(qr_payload) if payer_url else None


@bp.post("/orders/<id:order_id>/pay")
@login_required
def pay(order_id: int):
    """Pay a pending order again (from history, or when its QR code expired)."""
    order, account = _managed_order(order_id)
    channel = payment_channels().get(order.channel)
    if channel is None:
        flash(_("This payment method is no longer available; start a new recharge."), "error")
        return redirect(url_for("billing.history"))
    try:
        orders.charge(order, channel)
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


@bp.route("/orders/<id:order_id>/close", methods=["GET", "POST"])
@login_required
def close(order_id: int):
    """Give up on a pending order (it is closed at the channel first, so it cannot be paid later).
    GET is the step before: which order, and what closing it means."""
    order, account = _managed_order(order_id)
    channel = payment_channels().get(order.channel)
    if order.state != PENDING or channel is None:
        flash(_("Only orders awaiting payment can be closed."), "error")
        return redirect(url_for("billing.history"))
    if request.method == "GET":
        return render_template("billing/close_confirm.html", order=order, account=account,
                               attempt=order.current_attempt, channel_label=localized(channel.label))
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


@bp.get("/orders/<id:order_id>/status")
@login_required
def order_status(order_id: int):
    order, account = _managed_order(order_id)
    return jsonify(
        state=order.state,
        label=str(STATE_LABELS[order.state]),
        amount=format_yuan(order.amount_fen),
        balance=format_yuan(account.balance_fen) if order.state == "paid" else None,
    )


@bp.post("/notify/<channel_name>")
@csrf.exempt
def notify(channel_name: str):
    """Every answer is in the channel's own protocol, failures of the portal included (the channel
    then retries): never an HTML error page."""
    try:
        channel = payment_channels().get(channel_name)
    except Exception:  # noqa: BLE001 - a plugin that cannot be built; the channel retries later
        log.exception("payment channels unavailable for a %s notification", channel_name)
        return "FAIL", 503, {"Content-Type": "text/plain"}
    if channel is None:
        return "unknown channel", 404, {"Content-Type": "text/plain"}
    try:
        _, ack = notifications.handle(channel, dict(request.headers), _notification_body(),
                                      sender=client_ip())
    except Exception as exc:  # noqa: BLE001 - database or storage down: nothing was committed
        # One line per delivery (a traceback only for the first of a kind in a minute): an outage
        # would otherwise log the same traceback for every retry of every notification.
        logs.failure(log, f"{channel.name} notification could not be processed", exc,
                     traceback=not isinstance(exc, database.unavailable_errors()))
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database is gone; the session is discarded anyway
            pass
        ack = channel.acknowledge(False, failure=True)
    return ack.body, ack.status, {"Content-Type": ack.content_type}


def _notification_body() -> bytes | None:
    """The raw body (what the signature covers), or None when it is larger than any notification:
    then it is not read at all, and the form is never parsed."""
    limit = notifications.MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


# 交易记录 lives in its own module, on this blueprint.
from portal.billing import statement_views  # noqa: E402,F401
