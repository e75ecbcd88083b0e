"""交易记录: the account's statement page, filtered, paginated, and exported as CSV."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request, stream_with_context
from flask_babel import format_datetime
from flask_login import current_user, login_required

from portal import timeutil
from portal.accounts.access import can_manage, current_account
from portal.billing import statement
from portal.billing.amounts import format_yuan
from portal.billing.forms import StatementFilterForm
from portal.billing.views import STATE_LABELS, bp
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

PAGE_SIZE = 20
KIND_LABELS = {
    "recharge": _l("Recharge"),
    "plan_charge": _l("Purchase"),
    "refund": _l("Refund"),
    "adjustment": _l("Adjustment"),
    # The hold of a withdrawal (提现中 until paid, then 提现) and its release when rejected or failed.
    "withdrawal_hold": _l("Withdrawal"),
    "withdrawal_release": _l("Withdrawal released"),
}
LINE_STATE_LABELS = {**STATE_LABELS, statement.COMPLETED: _l("Completed"),
                     statement.WITHDRAWING: _l("Withdrawal pending"), statement.RETURNED: _l("Returned")}
# Why a withdrawal's amount came back, shown under its release.
RELEASE_LABELS = {"rejected": _l("Rejected: %(reason)s"), "failed": _l("Payout failed: %(reason)s")}


@bp.app_context_processor
def statement_helpers():
    return {"kind_label": kind_label, "line_state_label": lambda state: LINE_STATE_LABELS.get(state, state),
            "release_reason": release_reason}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def release_reason(line: statement.Line) -> str:
    """Why a withdrawal's release gave the amount back ("" for any other line)."""
    label = RELEASE_LABELS.get(line.withdrawal_state or "")
    if line.kind != "withdrawal_release" or label is None:
        return ""
    return str(label) % {"reason": line.reason or ""}


def _filters() -> tuple[StatementFilterForm, statement.Filters | None]:
    form = StatementFilterForm(request.args)
    form.kind.choices = [("", _("All types"))] + [(k, kind_label(k)) for k in statement.KINDS]
    form.state.choices = [("", _("All states"))] + [(s, str(LINE_STATE_LABELS[s])) for s in statement.STATES]
    if not form.validate():
        return form, None
    return form, statement.Filters(form.kind.data or None, form.state.data or None,
                                   form.since.data, form.until.data)


@bp.get("/history")
@login_required
def history():
    account = current_account()
    form, filters = _filters()
    if filters is None:
        lines, next_cursor, status = [], None, 400
    else:
        try:
            lines, next_cursor = statement.page(account.id, filters, request.args.get("cursor"), PAGE_SIZE)
        except statement.CursorError:
            abort(400)
        status = 200
    query = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template(
        "billing/history.html", account=account, lines=lines, form=form, query=query,
        next_cursor=next_cursor, can_manage=can_manage(account, current_user), now=timeutil.utcnow(),
    ), status


@bp.get("/history.csv")
@login_required
def history_csv():
    """The filtered statement as CSV, streamed: UTF-8 with a BOM so that Excel reads Chinese."""
    account = current_account()
    _form, filters = _filters()
    if filters is None:
        abort(400)
    header = [_("Time"), _("Order / reference"), _("Type"), _("Amount (yuan)"),
              _("Balance after (yuan)"), _("Status")]
    state_label = {k: str(v) for k, v in LINE_STATE_LABELS.items()}
    kinds = {k: kind_label(k) for k in statement.KINDS}

    def rows():
        yield "\ufeff" + _csv_row(header)
        for line in statement.every_line(account.id, filters):
            sign = "+" if line.amount_fen > 0 else "-"
            yield _csv_row([
                format_datetime(line.at, "yyyy-MM-dd HH:mm:ss"),
                reference(line),
                kinds.get(line.kind, line.kind),
                sign + format_yuan(abs(line.amount_fen)),
                format_yuan(line.balance_after_fen) if line.balance_after_fen is not None else "",
                " ".join(filter(None, (state_label.get(line.state, line.state), release_reason(line)))),
            ])

    filename = f"statement-{account.id}-{timeutil.utcnow():%Y%m%d}.csv"
    return Response(stream_with_context(rows()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.app_template_global("statement_reference")
def reference(line: statement.Line) -> str:
    """What the line's 订单号 / reference column says: the order number, or what caused the entry."""
    if line.order_id is not None:
        return str(line.order_id)
    return line.reference or ""


def _csv_row(values) -> str:
    out = io.StringIO()
    # A cell starting with = + - @ is a formula to Excel; the sign of an amount is ours, the rest
    # (references) could come from elsewhere, so quote those.
    csv.writer(out).writerow([_defused(v) for v in values])
    return out.getvalue()


def _defused(value: str) -> str:
    text = str(value)
    signed_amount = text[:1] in ("+", "-") and text[1:].replace(".", "").replace(",", "").isdigit()
    if text[:1] in ("=", "@", "+", "-", "\t", "\r") and not signed_amount:
        return "'" + text
    return text
