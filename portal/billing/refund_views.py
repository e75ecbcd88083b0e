"""The channels' refund notification endpoint (refunds themselves are made from the command line)."""
from __future__ import annotations

import logging

from flask import Blueprint, request

from portal.billing import refund_notifications
from portal.billing.channels import payment_channels
from portal.extensions import csrf, db
from portal.net import client_ip

log = logging.getLogger(__name__)

bp = Blueprint("billing_refunds", __name__, url_prefix="/billing")


@bp.post("/notify/<channel_name>/refund")
@csrf.exempt
def notify(channel_name: str):
    """Answers in the channel's own protocol, failures of the portal included (it then retries)."""
    try:
        channel = payment_channels().get(channel_name)
    except Exception:  # noqa: BLE001 - a plugin that cannot be built; the channel retries later
        log.exception("payment channels unavailable for a %s refund notification", channel_name)
        return "FAIL", 503, {"Content-Type": "text/plain"}
    if channel is None or not hasattr(channel, "parse_refund_notification"):
        return "unknown channel", 404, {"Content-Type": "text/plain"}
    try:
        _, ack = refund_notifications.handle(channel, dict(request.headers), _body(), sender=client_ip())
    except Exception:  # noqa: BLE001 - database or storage down: the channel retries
        log.exception("%s refund notification could not be processed", channel.name)
        db.session.rollback()
        ack = channel.acknowledge(False, failure=True)
    return ack.body, ack.status, {"Content-Type": ack.content_type}


def _body() -> bytes | None:
    """The raw body (what the signature covers), or None when it is larger than any notification."""
    limit = refund_notifications.MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body
