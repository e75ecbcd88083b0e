"""Withdrawals, start to finish, each step a conditional state change so that concurrent callers
(the page, operators, cron's ``reconcile`` on several machines) each apply a step once.

Requesting holds the amount at once (a ``withdrawal_hold`` debit through the ledger, in the same
transaction as the withdrawal row): two requests racing for the same money cannot both hold it.
Approving marks it "sending" and commits *before* the channel is asked, so a crash between the
call and the commit leaves a sending withdrawal that ``reconcile`` settles by querying the channel
with the same out_biz_no; a withdrawal the channel never received is sent again with that same
number, which the channel pays at most once. SUCCESS makes the hold final (no further entry); FAIL
and rejection release it (a ``withdrawal_release`` credit), once.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from portal import timeutil
from portal.accounts.models import Account
from portal.billing import ledger
from portal.billing.amounts import format_yuan
from portal.extensions import db
from portal.transitions import transition as _transition
from portal.i18n import gettext as _
from portal.withdrawals.channels import (
    PayoutError,
    TransferRefused,
    TransferRequest,
    TransferResult,
    payout_channels,
)
from portal.withdrawals.models import (
    FAILED,
    OPEN,
    PENDING,
    REJECTED,
    SENDING,
    SUCCEEDED,
    PayoutAccount,
    Withdrawal,
)

log = logging.getLogger(__name__)

HOLD, RELEASE = "withdrawal_hold", "withdrawal_release"
MAX_REASON = 200
# A withdrawal the channel says it never received is sent again (same out_biz_no) only after this
# long, so a request still on its way is never overtaken by its own retry.
RESEND_AFTER = timedelta(minutes=1)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class WithdrawalError(Exception):
    """The request or decision is refused; ``message`` says why (translated for users; operators read
    it too)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Limits:
    min_fen: int
    max_fen: int
    daily_max_fen: int
    auto_approve_max_fen: int


def limits() -> Limits:
    config = current_app.config
    return Limits(int(config["WITHDRAWAL_MIN_FEN"]), int(config["WITHDRAWAL_MAX_FEN"]),
                  int(config["WITHDRAWAL_DAILY_MAX_FEN"]), int(config.get("WITHDRAWAL_AUTO_APPROVE_MAX_FEN") or 0))


def new_out_biz_no(now: datetime) -> str:
    # 25 characters of [0-9a-z]: Alipay takes up to 64 letters and digits.
    return f"{now:%Y%m%d}w{secrets.token_hex(8)}"


def bound_accounts(user_id: int) -> list[PayoutAccount]:
    return list(db.session.scalars(
        sa.select(PayoutAccount).where(PayoutAccount.user_id == user_id).order_by(PayoutAccount.id)))


def bound_account(user_id: int, channel: str | None = None) -> PayoutAccount | None:
    """The user's bound account at ``channel`` (or the first one bound at an enabled channel)."""
    enabled = payout_channels()
    for account in bound_accounts(user_id):
        if account.channel in enabled and channel in (None, account.channel):
            return account
    return None


def _day_start(now: datetime) -> datetime:
    """Midnight of ``now``'s day in the site's time zone, as naive UTC (the daily limit's day)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = now.replace(tzinfo=timezone.utc).astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), zone)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def withdrawn_today_fen(account_id: int, now: datetime) -> int:
    """What the account's withdrawals of today take or took (all but the released ones)."""
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Withdrawal.amount_fen), 0))
        .where(Withdrawal.account_id == account_id, Withdrawal.created_at >= _day_start(now),
               Withdrawal.state.not_in((FAILED, REJECTED)))
    ))


def check_allowed(user, account: Account) -> PayoutAccount:
    """The bound account a withdrawal from ``account`` by ``user`` would go to, or WithdrawalError."""
    from portal.realname import services as realname

    if account.user_id != user.id:
        raise WithdrawalError(_("Organization balances cannot be withdrawn: only your personal balance can."))
    if not realname.is_verified(user.id):
        raise WithdrawalError(_("Withdrawing needs a verified identity (real-name verification): verify yours first."))
    payee = bound_account(user.id)
    if payee is None:
        raise WithdrawalError(_("Bind an Alipay account first: withdrawals are paid to it."))
    return payee


def request_withdrawal(user, account: Account, amount_fen: int, now: datetime | None = None) -> Withdrawal:
    """Hold ``amount_fen`` of the personal balance and record the withdrawal (pending), in one
    transaction, or raise WithdrawalError and change nothing. Under the auto-approval amount it is
    approved and sent at once."""
    now = now or timeutil.utcnow()
    rules = limits()
    if type(amount_fen) is not int or amount_fen <= 0:
        raise WithdrawalError(_("Enter an amount of at least %(min)s yuan.", min=format_yuan(rules.min_fen)))
    payee = check_allowed(user, account)
    if amount_fen < rules.min_fen:
        raise WithdrawalError(_("A withdrawal is at least %(min)s yuan.", min=format_yuan(rules.min_fen)))
    if amount_fen > rules.max_fen:
        raise WithdrawalError(_("A withdrawal is at most %(max)s yuan.", max=format_yuan(rules.max_fen)))
    # The lock must be the transaction's first statement (SQLite cannot turn a reading transaction
    # into a writing one once another writer went first); it serializes this account's requests,
    # so the daily sum below cannot be read by two at once.
    db.session.commit()
    db.session.execute(
        sa.update(Account).where(Account.id == account.id).values(balance_fen=Account.balance_fen)
        .execution_options(synchronize_session=False))
    today = withdrawn_today_fen(account.id, now)
    if today + amount_fen > rules.daily_max_fen:
        db.session.rollback()
        raise WithdrawalError(_(
            "Withdrawals are limited to %(max)s yuan a day; %(left)s yuan are left today.",
            max=format_yuan(rules.daily_max_fen), left=format_yuan(max(rules.daily_max_fen - today, 0))))
    withdrawal = Withdrawal(
        out_biz_no=new_out_biz_no(now), user_id=user.id, account_id=account.id, channel=payee.channel,
        payee=payee.subject, payee_type=payee.subject_type, payee_masked=payee.masked,
        amount_fen=amount_fen, state=PENDING, created_at=now,
    )
    try:
        ledger.debit(account.id, amount_fen, HOLD, reference=f"withdrawal:{withdrawal.out_biz_no}")
    except ledger.InsufficientBalance:
        balance = ledger.balance_fen(account.id)
        db.session.rollback()
        raise WithdrawalError(_("The balance is %(balance)s yuan: %(amount)s yuan cannot be withdrawn.",
                                balance=format_yuan(balance), amount=format_yuan(amount_fen))) from None
    db.session.add(withdrawal)
    db.session.commit()
    _notify(withdrawal)
    if rules.auto_approve_max_fen and amount_fen <= rules.auto_approve_max_fen:
        withdrawal = approve(withdrawal.id, "auto", now)
    return withdrawal


def get(withdrawal_id: int) -> Withdrawal | None:
    return db.session.get(Withdrawal, withdrawal_id)


def _describe(withdrawal: Withdrawal) -> str:
    return f"withdrawal {withdrawal.id} is {withdrawal.state}"


def approve(withdrawal_id: int, operator: str, now: datetime | None = None) -> Withdrawal:
    """Pending -> sending (committed), then ask the channel to pay. WithdrawalError when it is not
    pending (approving twice, approving a rejected one)."""
    now = now or timeutil.utcnow()
    withdrawal = get(withdrawal_id)
    if withdrawal is None:
        raise WithdrawalError(f"There is no withdrawal {withdrawal_id}.")
    if not _transition(withdrawal, (PENDING,), SENDING, decided_by=(operator or "operator")[:64],
                       decided_at=now):
        raise WithdrawalError(f"Only a pending withdrawal can be approved: {_describe(withdrawal)}.")
    return send(withdrawal, now)


def reject(withdrawal_id: int, reason: str, operator: str, now: datetime | None = None) -> Withdrawal:
    """Pending -> rejected, releasing the hold in the same transaction; the reason is shown to the user."""
    now = now or timeutil.utcnow()
    reason = CONTROL_CHARACTERS.sub(" ", reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise WithdrawalError(f"Give a reason of 1 to {MAX_REASON} characters: the user reads it.")
    withdrawal = get(withdrawal_id)
    if withdrawal is None:
        raise WithdrawalError(f"There is no withdrawal {withdrawal_id}.")
    if not _release(withdrawal, (PENDING,), REJECTED, reason, None, now,
                    decided_by=(operator or "operator")[:64], decided_at=now):
        raise WithdrawalError(f"Only a pending withdrawal can be rejected: {_describe(withdrawal)}.")
    _notify(withdrawal)
    return withdrawal


def _release(withdrawal: Withdrawal, from_states, to_state: str, reason: str, channel_status, now,
             **values) -> bool:
    """Move to ``to_state`` and give the held amount back, in one transaction, once."""
    db.session.commit()
    moved = _transition(withdrawal, from_states, to_state, commit=False, reason=reason[:255],
                        finished_at=now, channel_status=channel_status and channel_status[:64], **values)
    if not moved:
        db.session.rollback()
        db.session.refresh(withdrawal)
        return False
    ledger.credit(withdrawal.account_id, withdrawal.amount_fen, RELEASE,
                  reference=f"withdrawal-released:{withdrawal.out_biz_no}")
    db.session.commit()
    db.session.refresh(withdrawal)
    return True


def transfer_request(withdrawal: Withdrawal) -> TransferRequest:
    site = current_app.config.get("SITE_NAME", "Portal")
    return TransferRequest(out_biz_no=withdrawal.out_biz_no, amount_fen=withdrawal.amount_fen,
                           payee=withdrawal.payee, payee_type=withdrawal.payee_type,
                           title=f"{site} 提现")


def _channel(withdrawal: Withdrawal):
    channel = payout_channels().get(withdrawal.channel)
    if channel is None:
        raise PayoutError(f"the payout channel {withdrawal.channel} is not enabled", "CHANNEL_DISABLED")
    return channel


def send(withdrawal: Withdrawal, now: datetime | None = None) -> Withdrawal:
    """Ask the channel to pay a sending withdrawal (again: the same out_biz_no never pays twice) and
    apply its answer; leaves it sending when the answer is unknown. Raises nothing from the channel."""
    now = now or timeutil.utcnow()
    # Recorded before the call: whatever happens next, reconcile knows it may have been paid.
    if not _transition(withdrawal, (SENDING,), SENDING, sent_at=now):
        return withdrawal
    try:
        result = _channel(withdrawal).transfer(transfer_request(withdrawal))
    except TransferRefused as exc:
        result = TransferResult("failed", channel_status=exc.code, reason=str(exc))
    except PayoutError as exc:
        log.warning("withdrawal %s: the channel's answer is unknown (%s): left sending", withdrawal.out_biz_no, exc)
        _note(withdrawal, channel_status=(exc.code or "UNKNOWN")[:64])
        return withdrawal
    apply_result(withdrawal, result, now)
    return withdrawal


def apply_result(withdrawal: Withdrawal, result: TransferResult, now: datetime | None = None) -> str | None:
    """What the channel said (an answer or a query): returns the state moved to, or None."""
    now = now or timeutil.utcnow()
    if result.state == "succeeded":
        if _transition(withdrawal, (SENDING,), SUCCEEDED, finished_at=now, channel_status=result.channel_status,
                       channel_order_id=result.order_id):
            _notify(withdrawal)
            return SUCCEEDED
        return None
    if result.state == "failed":
        reason = result.reason or result.channel_status or "FAIL"
        if _release(withdrawal, (SENDING,), FAILED, reason, result.channel_status, now,
                    channel_order_id=result.order_id):
            _notify(withdrawal)
            return FAILED
        return None
    _note(withdrawal, channel_status=result.channel_status, channel_order_id=result.order_id)
    return None


def _note(withdrawal: Withdrawal, **values) -> None:
    """Keep what the channel said about a sending withdrawal (no state change)."""
    values = {k: v for k, v in values.items() if v is not None}
    if values:
        db.session.execute(
            sa.update(Withdrawal).where(Withdrawal.id == withdrawal.id, Withdrawal.state == SENDING)
            .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(withdrawal)


def _notify(withdrawal: Withdrawal) -> None:
    """Tell the user of their withdrawal: requested (money held to move out), paid, or come back."""
    from portal.i18n import lazy_gettext as _l
    from portal.notices import send_notice
    from portal.users.models import User

    user = db.session.get(User, withdrawal.user_id)
    amount = format_yuan(withdrawal.amount_fen)
    if withdrawal.state == PENDING:
        what = _l("A withdrawal of %(amount)s yuan to %(payee)s was requested; the amount is held until it is "
                  "paid or rejected.", amount=amount, payee=withdrawal.payee_masked)
    elif withdrawal.state == SUCCEEDED:
        what = _l("A withdrawal of %(amount)s yuan was paid to %(payee)s.", amount=amount,
                  payee=withdrawal.payee_masked)
    elif withdrawal.state == REJECTED:
        what = _l("Your withdrawal of %(amount)s yuan was rejected (%(reason)s); the amount is back in your "
                  "balance.", amount=amount, reason=withdrawal.reason)
    else:
        what = _l("Your withdrawal of %(amount)s yuan could not be paid (%(reason)s); the amount is back in "
                  "your balance.", amount=amount, reason=withdrawal.reason)
    try:
        send_notice(user, what)
    except Exception:  # a notice never undoes the change it reports
        log.exception("withdrawal %s: the notice could not be sent", withdrawal.out_biz_no)


def of_account(account_id: int, limit: int = 50) -> list[Withdrawal]:
    return list(db.session.scalars(
        sa.select(Withdrawal).where(Withdrawal.account_id == account_id)
        .order_by(Withdrawal.id.desc()).limit(limit)))


def listed(states=None, limit: int = 100) -> list[Withdrawal]:
    query = sa.select(Withdrawal).order_by(Withdrawal.id)
    if states:
        query = query.where(Withdrawal.state.in_(states))
    return list(db.session.scalars(query.limit(limit)))


def has_open(user_id: int, channel: str | None = None) -> bool:
    query = sa.select(Withdrawal.id).where(Withdrawal.user_id == user_id, Withdrawal.state.in_(OPEN))
    if channel is not None:
        query = query.where(Withdrawal.channel == channel)
    return db.session.scalar(query.limit(1)) is not None


@dataclass
class Report:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


def reconcile(now: datetime | None = None, limit: int = 500) -> Report:
    """Settle sending withdrawals by asking their channel (same out_biz_no); one the channel never
    received is sent again once RESEND_AFTER passed since it was last sent."""
    now = now or timeutil.utcnow()
    report = Report()
    sending = listed((SENDING,), limit)
    db.session.commit()
    for withdrawal in sending:
        report.checked += 1
        try:
            result = _channel(withdrawal).query_transfer(transfer_request(withdrawal))
        except PayoutError as exc:
            db.session.rollback()
            report.problems.append(f"withdrawal {withdrawal.id} ({withdrawal.out_biz_no}): query failed: {exc}")
            continue
        if result.state == "not_found":
            if (withdrawal.sent_at or withdrawal.created_at) > now - RESEND_AFTER:
                continue
            send(withdrawal, now)
        else:
            apply_result(withdrawal, result, now)
        db.session.refresh(withdrawal)
        if withdrawal.state == SUCCEEDED:
            report.succeeded += 1
        elif withdrawal.state == FAILED:
            report.failed += 1
    return report
