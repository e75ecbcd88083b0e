"""绑定支付宝: binding a payout account to a user after the channel's authorization, and unbinding.

The authorization's ``state`` is single use, bound to the session and valid 10 minutes (the views
keep it); here the channel turns the callback into the account it proves, which is then bound to at
most one user. A refusal says only that the account cannot be bound, never to whom it belongs.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal import timeutil
from portal.extensions import db
from portal.i18n import gettext as _
from portal.withdrawals.channels import BindingError, payout_channels
from portal.withdrawals.models import PayoutAccount


class BindRefused(Exception):
    """Binding or unbinding refused; ``message`` is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def channel_or_refuse(name: str):
    channel = payout_channels().get(name)
    if channel is None:
        raise BindRefused(_("This payout channel is not available."))
    return channel


def bind(user, channel_name: str, callback_args: dict) -> PayoutAccount:
    """Bind the account the callback proves to ``user`` (replacing none: unbind first). Commits."""
    channel = channel_or_refuse(channel_name)
    if db.session.scalar(sa.select(PayoutAccount.id).where(
            PayoutAccount.user_id == user.id, PayoutAccount.channel == channel_name)) is not None:
        raise BindRefused(_("An account is already bound: unbind it first."))
    try:
        proved = channel.bind(callback_args)
    except BindingError as exc:
        raise BindRefused(_("The authorization could not be used (expired, refused or already used): "
                            "please start again.")) from exc
    taken = _("This Alipay account cannot be bound to your account.")
    if db.session.scalar(sa.select(PayoutAccount.id).where(
            PayoutAccount.channel == channel_name, PayoutAccount.subject == proved.subject)) is not None:
        raise BindRefused(taken)
    account = PayoutAccount(user_id=user.id, channel=channel_name, subject=proved.subject,
                            subject_type=proved.subject_type, channel_user_id=proved.channel_user_id,
                            nickname=proved.nickname, masked=proved.masked, created_at=timeutil.utcnow())
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone bound it (or this user bound another) meanwhile: the unique constraints decide.
        db.session.rollback()
        raise BindRefused(taken) from None
    _notify(user, account, bound=True)
    return account


def unbind(user, channel_name: str) -> PayoutAccount:
    """Remove the user's bound account at ``channel_name``; refused while a withdrawal is open. The
    caller requires a fresh step-up. Commits."""
    from portal.withdrawals import services

    account = db.session.scalar(sa.select(PayoutAccount).where(
        PayoutAccount.user_id == user.id, PayoutAccount.channel == channel_name))
    if account is None:
        raise BindRefused(_("No account is bound."))
    if services.has_open(user.id, channel_name):
        raise BindRefused(_("A withdrawal is still pending or being paid: unbind once it is finished."))
    db.session.delete(account)
    db.session.commit()
    _notify(user, account, bound=False)
    return account


def _notify(user, account: PayoutAccount, bound: bool) -> None:
    from portal.i18n import lazy_gettext as _l
    from portal.notices import send_notice

    if bound:
        what = _l("The Alipay account %(account)s was bound for withdrawals.", account=account.masked)
    else:
        what = _l("The Alipay account %(account)s was unbound; withdrawals need a bound account.",
                  account=account.masked)
    send_notice(user, what)
