"""What /api/v1 accepts and returns, as marshmallow schemas: flask-smorest validates requests with
them (unknown fields are refused) and builds the OpenAPI document from them."""
from __future__ import annotations

from datetime import timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from portal.billing.models import ORDER_STATES

# Quota changes are counts of things (containers, projects): more than this in one call is a bug.
MAX_DELTA = 1_000_000
# A cursor is an order id.
CURSOR_PATTERN = r"^[1-9][0-9]{0,17}$"


class UtcDateTime(fields.DateTime):
    """Stored naive in UTC; sent as RFC 3339 with the Z that says so."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc, microsecond=0).isoformat().replace("+00:00", "Z")


class WholeNumber(fields.Integer):
    """A JSON number that is a whole number: 3 and 3.0 (JSON Schema's "integer"), never 3.5, "3",
    true, NaN or Infinity (which Python's json reads as floats)."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float):
            if not value.is_integer():
                raise self.make_error("invalid", input=value)
            value = int(value)
        return value


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- Errors -------------------------------------------------------------------------------------

class ErrorDetailSchema(StrictSchema):
    code = fields.String(required=True, metadata={"description": "Stable, for programs."})
    message = fields.String(required=True, metadata={"description": "For people, in the Accept-Language."})
    field_errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                               metadata={"description": "invalid_request: what is wrong with each field."})
    remaining = fields.Integer(metadata={"description": "quota_exceeded: units still free."})
    used = fields.Integer(metadata={"description": "release_exceeds_usage: units in use."})


class ErrorSchema(StrictSchema):
    error = fields.Nested(ErrorDetailSchema, required=True)


# --- Me and accounts --------------------------------------------------------------------------------

class KeyInfoSchema(StrictSchema):
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "The key's public beginning."})
    scopes = fields.List(fields.String(validate=validate.OneOf(["read", "billing", "usage"])), required=True)
    account_id = fields.Integer(required=True, allow_none=True,
                                metadata={"description": "The only account the key may act on; null: any."})
    expires_at = UtcDateTime(required=True, allow_none=True)


class MeSchema(StrictSchema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True, allow_none=True, metadata={"description": "Primary email address."})
    key = fields.Nested(KeyInfoSchema, required=True)


class PlanSchema(StrictSchema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    price_fen = fields.Integer(required=True, metadata={"description": "Monthly price in fen (0.01 yuan)."})


class QuotaSchema(StrictSchema):
    resource = fields.String(required=True)
    label = fields.String(required=True)
    limit = fields.Integer(required=True, metadata={"description": "The plan's quota plus bonuses."})
    used = fields.Integer(required=True)
    left = fields.Integer(required=True)


class AccountSchema(StrictSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["personal", "organization"]))
    name = fields.String(required=True)
    handle = fields.String(required=True, metadata={"description": "Username or organization slug."})
    role = fields.String(required=True, validate=validate.OneOf(["owner", "admin", "member"]))
    balance_fen = fields.Integer(required=True, metadata={"description": "Balance in fen (0.01 yuan)."})
    plan = fields.Nested(PlanSchema, required=True)
    quotas = fields.List(fields.Nested(QuotaSchema), required=True)


class AccountListSchema(StrictSchema):
    accounts = fields.List(fields.Nested(AccountSchema), required=True)


# --- Orders and recharges -------------------------------------------------------------------------

class OrderSchema(StrictSchema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    channel = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    state = fields.String(required=True, validate=validate.OneOf(ORDER_STATES))
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    paid_at = UtcDateTime(required=True, allow_none=True)
    ended_at = UtcDateTime(required=True, allow_none=True)


class OrderPageSchema(StrictSchema):
    orders = fields.List(fields.Nested(OrderSchema), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True,
        metadata={"description": "Pass as cursor for the next (older) page; null: no more."})


class OrderQuerySchema(StrictSchema):
    state = fields.String(validate=validate.OneOf(ORDER_STATES))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(validate=validate.Regexp(CURSOR_PATTERN),
                           metadata={"description": "next_cursor of the previous page."})


class RechargeRequestSchema(StrictSchema):
    channel = fields.String(required=True, validate=validate.Length(1, 32),
                            metadata={"description": "Payment channel, e.g. wechatpay or alipay."})
    amount_fen = WholeNumber(
        required=True, validate=validate.Range(1, 10**12),
        metadata={"description": "Amount in fen (0.01 yuan); the site sets the maximum."})


class RechargeSchema(StrictSchema):
    order = fields.Nested(OrderSchema, required=True)
    qr_payload = fields.String(required=True, allow_none=True,
                               metadata={"description": "What the payment QR code encodes."})


# --- Usage -------------------------------------------------------------------------------------------

def _not_zero(value: int) -> None:
    if value == 0:
        raise ValidationError("Must not be zero.")


class UsageRequestSchema(StrictSchema):
    resource = fields.String(required=True, validate=validate.Length(1, 32),
                             metadata={"description": "A resource of the account's quotas, e.g. containers."})
    delta = WholeNumber(
        required=True, validate=[validate.Range(-MAX_DELTA, MAX_DELTA), _not_zero],
        metadata={"description": "Units to reserve (positive) or release (negative).", "not": {"const": 0}},
    )


class IdempotencyHeaderSchema(Schema):
    idempotency_key = fields.String(
        required=True, data_key="Idempotency-Key", validate=validate.Length(1, 255),
        metadata={"description": "Any unique string: a retry with the same key and body within 24 hours "
                                 "returns the first answer instead of changing usage again."},
    )


class UsageSchema(StrictSchema):
    account_id = fields.Integer(required=True)
    resource = fields.String(required=True)
    delta = fields.Integer(required=True)
    used = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    left = fields.Integer(required=True)
