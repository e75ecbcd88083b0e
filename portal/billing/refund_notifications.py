"""What the core does with a channel's refund notification (WeChat Pay's REFUND.* events), once per
delivery.

The plugin verifies and parses it (raising NotificationError on anything it cannot trust); the core
finds the refund by its own out_refund_no, checks the channel and the amount, and applies it through
``portal.billing.refunds``, whose conditional updates make a duplicate (or a race with
reconciliation) change nothing. Every delivery is recorded with the payment notifications, under
outcomes of its own ("refund_...").
"""
from __future__ import annotations

import logging
from datetime import datetime

from portal import ratelimits, timeutil
from portal.billing import refunds
from portal.billing.channels import Acknowledgement, NotificationError, RefundNotice, RefundResult
from portal.billing.notifications import INVALID, INVALID_RECORD_LIMIT, MAX_BODY_BYTES, MAX_ID_LENGTH
from portal.billing.notifications import _record as record_delivery
from portal.extensions import db

log = logging.getLogger(__name__)

SUCCEEDED = "refund_succeeded"
# Closed by the channel: the refund failed and its debit was released.
FAILED = "refund_failed"
ABNORMAL = "refund_abnormal"
DUPLICATE = "refund_duplicate"
AMOUNT_MISMATCH = "refund_amount_mismatch"
UNKNOWN_REFUND = "refund_unknown"

# Outcomes after which the channel should stop resending.
ACCEPTED = (SUCCEEDED, FAILED, ABNORMAL, DUPLICATE, AMOUNT_MISMATCH)


def handle(channel, headers: dict, body: bytes | None, now: datetime | None = None,
           sender: str = "") -> tuple[str, Acknowledgement]:
    """Verify, match and apply one refund notification from ``sender``; returns (outcome, reply).
    Raises only when the portal itself fails (the caller then asks the channel to retry)."""
    now = now or timeutil.utcnow()
    try:
        if body is None or len(body) > MAX_BODY_BYTES:
            raise NotificationError(f"body larger than {MAX_BODY_BYTES} bytes")
        notice = _checked(channel.parse_refund_notification(headers, body))
    except NotificationError as exc:
        log.warning("rejected %s refund notification from %s: %s", channel.name, sender, exc)
        if ratelimits.hit(INVALID_RECORD_LIMIT, "billing-invalid-notification", channel.name, sender):
            record_delivery(channel.name, INVALID, now, detail=f"refund: {exc}")
            db.session.commit()
        return INVALID, channel.acknowledge(False)

    refund = refunds.get_refund(notice.out_refund_no)
    if refund is None or refund.channel != channel.name:
        outcome = UNKNOWN_REFUND
    elif notice.amount_fen != refund.amount_fen:
        outcome = AMOUNT_MISMATCH
    else:
        moved = refunds.apply_result(
            refund, RefundResult(notice.state, notice.refund_id, notice.amount_fen, notice.channel_status), now)
        if moved == refunds.SUCCEEDED:
            outcome = SUCCEEDED
        elif moved == refunds.FAILED:
            outcome = FAILED
        elif notice.state == "abnormal" and refund.state in refunds.OPEN:
            outcome = ABNORMAL
        else:
            outcome = DUPLICATE
    if outcome in (UNKNOWN_REFUND, AMOUNT_MISMATCH):
        log.error("%s refund notification for %s (refund id %s, %s fen): %s", channel.name,
                  notice.out_refund_no, notice.refund_id, notice.amount_fen, outcome)
    record_delivery(
        channel.name, outcome, now, detail=f"refund {notice.out_refund_no}: {notice.channel_status}",
        transaction_id=notice.refund_id or None, amount_fen=notice.amount_fen,
        order_id=refund.order_id if refund is not None else None,
    )
    db.session.commit()
    return outcome, channel.acknowledge(outcome in ACCEPTED)


def _checked(notice: RefundNotice) -> RefundNotice:
    """The plugin's notice, with identifiers our columns can hold (a plugin's slip is refused)."""
    for value in (notice.out_refund_no, notice.refund_id, notice.channel_status):
        if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
            raise NotificationError("refund number, refund id or status missing or too long")
    if type(notice.amount_fen) is not int or notice.amount_fen <= 0:
        raise NotificationError("a refund notice without its amount")
    if notice.state not in ("succeeded", "closed", "abnormal"):
        raise NotificationError(f"a refund notice in state {notice.state!r}")
    return notice
