from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from portal.billing.amounts import AmountError, parse_yuan
from portal.i18n import lazy_gettext as _l

# 50 000 yuan unless the operator sets RECHARGE_MAX_FEN.
DEFAULT_RECHARGE_MAX_FEN = 5_000_000


def recharge_max_fen() -> int:
    return int(current_app.config.get("RECHARGE_MAX_FEN") or DEFAULT_RECHARGE_MAX_FEN)


class RechargeForm(FlaskForm):
    amount = StringField(_l("Amount (yuan)"), render_kw={"inputmode": "decimal", "autocomplete": "off"})
    channel = RadioField(_l("Pay with"), validators=[InputRequired(_l("Choose how to pay."))])
    submit = SubmitField(_l("Recharge"))

    amount_fen: int | None = None

    def validate_amount(self, field):
        try:
            self.amount_fen = parse_yuan(field.data, recharge_max_fen())
        except AmountError as exc:
            raise ValidationError(str(exc)) from None
