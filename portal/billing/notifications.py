"""What the core does with a channel's payment notification, once per delivery.

The plugin verifies and parses it (raising NotificationError on anything it cannot trust); the core
then checks the order exists and belongs to that channel, compares the amount as integers of fen,
and applies the payment exactly once. Every delivery is recorded with its outcome. The reply is the
channel's own acknowledgement: accepted unless the notification could not be trusted or matched to
one of our orders (then the channel retries, and reconciliation has the last word). When the portal
itself fails (database down), nothing is committed and the channel is told to retry, in its own
protocol.
"""
from __future__ import annotations

import logging
from datetime import datetime

from portal import ratelimits, timeutil
from portal.billing import orders
from portal.billing.channels import Acknowledgement, NotificationError, PaymentChannel, PaymentNotice
from portal.billing.models import PaymentNotification
from portal.extensions import db

log = logging.getLogger(__name__)

INVALID = "invalid"
NOT_PAID = "not_paid"
UNKNOWN_ORDER = "unknown_order"
WRONG_CHANNEL = "wrong_channel"

# No channel's notification comes near this; a larger body is refused unread.
MAX_BODY_BYTES = 64 * 1024
# The notification columns' width: a longer order number or transaction id is nobody's.
MAX_ID_LENGTH = 64

# Rejected notifications are recorded up to this rate per channel and sender; past it they are still
# refused and logged, but not stored, so a flood of forgeries cannot grow the table without bound.
INVALID_RECORD_LIMIT = "60/minute"

# Outcomes after which the channel should stop resending.
ACCEPTED = (orders.CREDITED, orders.DUPLICATE, orders.AMOUNT_MISMATCH, orders.CONFLICT, NOT_PAID)


def handle(channel: PaymentChannel, headers: dict, body: bytes | None,
           now: datetime | None = None, sender: str = "") -> tuple[str, Acknowledgement]:
    """Verify, match and apply one notification from ``sender`` (an IP address); returns
    (outcome, the reply for the channel). ``body`` None: it was larger than MAX_BODY_BYTES.

    Raises only when the portal itself fails (database, storage); nothing is then committed, and
    the caller answers with ``channel.acknowledge(False, failure=True)`` so the channel retries."""
    now = now or timeutil.utcnow()
    try:
        if body is None or len(body) > MAX_BODY_BYTES:
            raise NotificationError(f"body larger than {MAX_BODY_BYTES} bytes")
        notice = _checked(channel.parse_notification(headers, body))
    except NotificationError as exc:
        # Never log the body: it may carry personal data; the reason is enough to investigate.
        log.warning("rejected %s notification from %s: %s", channel.name, sender, exc)  # pragma: no mutate
        if ratelimits.hit(INVALID_RECORD_LIMIT, "billing-invalid-notification", channel.name, sender):
            _record(channel.name, INVALID, now, detail=str(exc))
            db.session.commit()
        return INVALID, channel.acknowledge(False)

    attempt = orders.attempt_by_out_trade_no(notice.out_trade_no)
    order = attempt.order if attempt else None

    def record(outcome: str) -> None:
        if outcome in (orders.AMOUNT_MISMATCH, orders.CONFLICT, UNKNOWN_ORDER, WRONG_CHANNEL):
            log.error(
                "%s notification for %s (transaction %s, %s fen): %s",  # pragma: no mutate
                channel.name, notice.out_trade_no, notice.transaction_id, notice.amount_fen, outcome,
            )
        _record(
            channel.name, outcome, now,
            out_trade_no=notice.out_trade_no,
            transaction_id=notice.transaction_id or None,
            amount_fen=notice.amount_fen if type(notice.amount_fen) is int else None,
            order_id=order.id if order is not None else None,
        )

    if order is not None and order.channel == channel.name and notice.paid:
        # The record commits with the credit, in one transaction.
        outcome = orders.apply_payment(order, notice.transaction_id, notice.amount_fen, now,
                                       paid_at=notice.paid_at, record=record)
    else:
        outcome = UNKNOWN_ORDER if order is None else WRONG_CHANNEL if order.channel != channel.name else NOT_PAID
        record(outcome)
        db.session.commit()
    return outcome, channel.acknowledge(outcome in ACCEPTED)


def _checked(notice: PaymentNotice) -> PaymentNotice:
    """The plugin's notice, with identifiers our columns can hold (a plugin's slip is refused)."""
    for value in (notice.out_trade_no, notice.transaction_id):
        if not isinstance(value, str) or len(value) > MAX_ID_LENGTH:
            raise NotificationError("order number or transaction id missing or too long")
    if not notice.out_trade_no or (notice.paid and not notice.transaction_id):
        raise NotificationError("a notice without its order number or transaction id")
    return notice


def _record(channel_name: str, outcome: str, now: datetime, detail: str | None = None, **fields) -> None:
    """Add the delivery's audit row to the session (the caller commits it with what it belongs to)."""
    db.session.add(
        PaymentNotification(
            channel=channel_name,
            outcome=outcome,
            detail=detail[:255] if detail else None,
            received_at=now,
            **fields,
        )
    )
