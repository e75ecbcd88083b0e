"""What the core does with a channel's payment notification, once per delivery.

The plugin verifies and parses it (raising NotificationError on anything it cannot trust); the core
then checks the order exists and belongs to that channel, compares the amount as integers of fen,
and applies the payment exactly once. Every delivery is recorded with its outcome. The reply is the
channel's own acknowledgement: accepted unless the notification could not be trusted or matched to
one of our orders (then the channel retries, and reconciliation has the last word).
"""
from __future__ import annotations

import logging
from datetime import datetime

from portal import ratelimits, timeutil
from portal.billing import orders
from portal.billing.channels import Acknowledgement, NotificationError, PaymentChannel
from portal.billing.models import PaymentNotification
from portal.extensions import db

log = logging.getLogger(__name__)

INVALID = "invalid"
NOT_PAID = "not_paid"
UNKNOWN_ORDER = "unknown_order"
WRONG_CHANNEL = "wrong_channel"

# Rejected notifications are recorded up to this rate per channel and sender; past it they are still
# refused and logged, but not stored, so a flood of forgeries cannot grow the table without bound.
INVALID_RECORD_LIMIT = "60/minute"

# Outcomes after which the channel should stop resending.
ACCEPTED = (orders.CREDITED, orders.DUPLICATE, orders.AMOUNT_MISMATCH, orders.CONFLICT, NOT_PAID)


def handle(channel: PaymentChannel, headers: dict, body: bytes, form: dict,
           now: datetime | None = None, sender: str = "") -> tuple[str, Acknowledgement]:
    """Verify, match and apply one notification from ``sender`` (an IP address); returns
    (outcome, the reply for the channel)."""
    now = now or timeutil.utcnow()
    try:
        notice = channel.parse_notification(headers, body, form)
    except NotificationError as exc:
        # Never log the body: it may carry personal data; the reason is enough to investigate.
        log.warning("rejected %s notification from %s: %s", channel.name, sender, exc)
        if ratelimits.hit(INVALID_RECORD_LIMIT, "billing-invalid-notification", channel.name, sender):
            _record(channel.name, INVALID, now, detail=str(exc))
        return INVALID, channel.acknowledge(False)

    attempt = orders.attempt_by_out_trade_no(notice.out_trade_no)
    order = attempt.order if attempt else None
    if order is None:
        outcome = UNKNOWN_ORDER
    elif order.channel != channel.name:
        outcome = WRONG_CHANNEL
    elif not notice.paid:
        outcome = NOT_PAID
    else:
        outcome = orders.apply_payment(order, notice.transaction_id, notice.amount_fen, now)

    if outcome in (orders.AMOUNT_MISMATCH, orders.CONFLICT, UNKNOWN_ORDER, WRONG_CHANNEL):
        log.error(
            "%s notification for %s (transaction %s, %s fen): %s",
            channel.name, notice.out_trade_no, notice.transaction_id, notice.amount_fen, outcome,
        )
    _record(
        channel.name, outcome, now,
        out_trade_no=notice.out_trade_no,
        transaction_id=notice.transaction_id,
        amount_fen=notice.amount_fen if type(notice.amount_fen) is int else None,
        order_id=order.id if order is not None else None,
    )
    return outcome, channel.acknowledge(outcome in ACCEPTED)


def _record(channel_name: str, outcome: str, now: datetime, detail: str | None = None, **fields) -> None:
    db.session.add(
        PaymentNotification(
            channel=channel_name,
            outcome=outcome,
            detail=detail[:255] if detail else None,
            received_at=now,
            **fields,
        )
    )
    db.session.commit()
