from __future__ import annotations

from flask import current_app
from flask_babel import lazy_pgettext
from wtforms import DateField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Optional, ValidationError

from portal.billing.amounts import AmountError, parse_yuan
from portal.forms import PortalForm
from portal.i18n import lazy_gettext as _l

# 50 000 yuan unless the operator sets RECHARGE_MAX_FEN.
DEFAULT_RECHARGE_MAX_FEN = 5_000_000


def recharge_max_fen() -> int:
    return int(current_app.config.get("RECHARGE_MAX_FEN") or DEFAULT_RECHARGE_MAX_FEN)


class RechargeForm(PortalForm):
    amount = StringField(_l("Amount (yuan)"), render_kw={"inputmode": "decimal", "autocomplete": "off"})
    channel = RadioField(_l("Pay with"), validators=[InputRequired(_l("Choose how to pay."))])
    submit = SubmitField(_l("Recharge"))

    amount_fen: int | None = None

    def validate_amount(self, field):
        try:
            self.amount_fen = parse_yuan(field.data, recharge_max_fen())
        except AmountError as exc:
            raise ValidationError(str(exc)) from None


class StatementFilterForm(PortalForm):
    """交易记录's filters, read from the query string (a GET form: nothing to protect with CSRF)."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Type"), default="")
    state = SelectField(_l("Status"), default="")
    # Dates, not the plans of a plan change (accounts/plans.html).
    since = DateField(lazy_pgettext("date", "From"), validators=[Optional()])
    until = DateField(lazy_pgettext("date", "To"), validators=[Optional()])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))
