"""What the API's views return, built from the core's services: accounts with their plan and quotas,
order pages, and recharges started exactly as the recharge page starts them."""
from __future__ import annotations

import sqlalchemy as sa

from portal.accounts import plans, quotas
from portal.accounts.formatting import account_handle
from portal.accounts.models import Account
from portal.api.errors import ApiError
from portal.billing import orders
from portal.billing.channels import ChannelError, payment_channels
from portal.billing.forms import recharge_max_fen
from portal.billing.models import Order
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import localized


def me_view(key) -> dict:
    user = key.user
    primary = user.primary_email
    return {
        "id": user.id,
        "username": user.username,
        "email": primary.address if primary else None,
        "key": {"name": key.name, "prefix": key.display_prefix, "scopes": sorted(key.scope_set),
                "account_id": key.account_id, "expires_at": key.expires_at},
    }


def account_view(account: Account, role: str) -> dict:
    plan = plans.plan(account.plan_key)
    return {
        "id": account.id,
        "kind": "personal" if account.is_personal else "organization",
        "name": account.user.username if account.is_personal else account.org.name,
        "handle": account_handle(account),
        "role": role,
        "balance_fen": account.balance_fen,
        "plan": {"key": plan.key, "name": localized(plan.name), "price_fen": plan.price_fen},
        "quotas": [
            {"resource": row.resource.key, "label": localized(row.resource.label), "limit": row.limit,
             "used": row.used, "left": row.left}
            for row in quotas.quota_table(account)
        ],
    }


def order_page(account_id: int, state: str | None, cursor: str | None, limit: int) -> dict:
    """The account's orders, newest first, ``limit`` at a time; keyset on id, so any page costs what
    the first does and new orders never shift a page."""
    query = sa.select(Order).where(Order.account_id == account_id)
    if state:
        query = query.where(Order.state == state)
    if cursor:
        query = query.where(Order.id < int(cursor))
    page = list(db.session.scalars(query.order_by(Order.id.desc()).limit(limit + 1)))
    return {"orders": page[:limit], "next_cursor": str(page[limit - 1].id) if len(page) > limit else None}


def start_recharge(account: Account, user, channel_name: str, amount_fen: int) -> dict:
    """A pending order and its QR payload, through the billing service the recharge page uses."""
    channel = payment_channels().get(channel_name)
    if channel is None:
        raise ApiError(422, "unknown_channel", _(
            "Unknown payment channel %(channel)s; this site offers: %(known)s.",
            channel=channel_name[:32], known=", ".join(payment_channels()) or "-"))
    if amount_fen > recharge_max_fen():
        raise ApiError(422, "amount_too_large",
                       _("A recharge can be at most %(max)d fen.", max=recharge_max_fen()))
    try:
        order = orders.start_recharge(account.id, channel, amount_fen, created_by_id=user.id)
    except ChannelError as exc:
        raise ApiError(502, "channel_unavailable", _(
            "%(channel)s could not create the payment right now; please try again.",
            channel=localized(channel.label))) from exc
    except orders.TooManyPendingOrders as exc:
        raise ApiError(409, "too_many_pending_orders", _(
            "This account already has %(count)d unpaid orders; pay or close one first.", count=exc.limit)) from exc
    except orders.RechargesRateLimited as exc:
        raise ApiError(429, "rate_limited", _(
            "Too many recharges were started just now; retry in %(seconds)d seconds.",
            seconds=exc.retry_after), {"Retry-After": str(exc.retry_after)}) from exc
    return {"order": order, "qr_payload": order.current_attempt.qr_payload}
